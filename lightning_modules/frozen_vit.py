"""What every frozen pretrained ViT baseline shares (``clip_features``, ``dinov2_features``).

Such a method is a pretrained timm ViT, frozen, whose feature is a token read after chosen
blocks, with a head fitted on top; only the backbone, its default blocks and its citation
differ between CLIP and DINOv2. Kept in one place so the two cannot drift apart on the rules
that make their figures honest:

* weights: ``weights_path`` (a local state dict), else the Hugging Face cache entry of the
  timm model's tag, else - where the Hub can be reached - downloaded into that cache once;
  the file's digest enters the method's cache key, the cell's recorded ``input_files`` and
  the board's weights column. Where none can be had, a run of every method leaves the
  method out with one line saying how to get them, and naming it is that line as an error;
* ``random_init: true`` is the only way to run without pretrained weights, and every row it
  makes says so - those figures measure the architecture, never the method;
* heads: the logistic probe (C on known-val, max-softmax open-set score) or cosine k-NN
  (k on known-val, best-similarity open-set score); zero shot embeds with the raw features.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import timm
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ConfigError, MissingWeightsError
from core.hashing import config_hash, file_digest
from lightning_modules.base import AttributionMethod, Features
from lightning_modules.heads import CosineKNN, LinearProbe

HEADS = ("logistic", "knn")
HF_WEIGHT_FILES = (
    "open_clip_model.safetensors",
    "model.safetensors",
    "open_clip_pytorch_model.bin",
    "pytorch_model.bin",
)


def hub_id_of(model: str) -> str | None:
    """The Hub repository of a tagged timm name (``arch.tag``); an untagged name has none."""
    return timm.models.get_pretrained_cfg(model).hf_hub_id if "." in model else None


def cached_hub_weights(model: str, cache_dir: str | Path | None = None) -> Path | None:
    """The model's pretrained file in the local Hugging Face cache, or None; never downloads."""
    from huggingface_hub import try_to_load_from_cache

    hub_id = hub_id_of(model)
    if not hub_id:
        return None
    for filename in HF_WEIGHT_FILES:
        found = try_to_load_from_cache(hub_id, filename, cache_dir=cache_dir)
        if isinstance(found, str):
            return Path(found)
    return None


def hub_is_reachable() -> bool:
    """Whether the Hugging Face Hub may be asked (not switched off with ``HF_HUB_OFFLINE``)."""
    import huggingface_hub.constants

    return not huggingface_hub.constants.HF_HUB_OFFLINE


def weights_hint(method: str, model: str) -> str:
    """The one line that says how to get the weights (a left-out note, or the error itself)."""
    return (
        f"no pretrained weights for {model} here (not in the Hugging Face cache, and the Hub is "
        "off or unreachable): run `modelprint weights fetch` where the Hub can be reached, or pass "
        f"weights_path; the random-init control runs with --method_args='{{{method}: {{random_init: true}}}}'"
    )


def fetch_hub_weights(method: str, model: str) -> Path:
    """Download the model's pretrained file into the Hugging Face cache (once) and return it."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError

    hub_id = hub_id_of(model)
    if not hub_id:
        raise MissingWeightsError(f"{model!r} names no pretrained weights on the Hub (no .tag)")
    if not hub_is_reachable():
        raise MissingWeightsError(f"{method}: {weights_hint(method, model)}")
    for filename in HF_WEIGHT_FILES:
        try:
            return Path(hf_hub_download(hub_id, filename))
        except LocalEntryNotFoundError as error:  # the Hub could not be reached
            raise MissingWeightsError(
                f"{hub_id}: cannot download ({' '.join(str(error).split())[:200]})"
            ) from None
        except EntryNotFoundError:  # reached: this repository has no such file
            continue
        except Exception as error:  # offline, unreachable, refused
            reason = " ".join(str(error).split())[:200]
            raise MissingWeightsError(f"{hub_id}: cannot download ({reason})") from None
    raise MissingWeightsError(f"{hub_id}: none of {HF_WEIGHT_FILES} on the Hub")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from safetensors, or a pickle read with ``weights_only=True`` (never code)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


class ClassTokenEncoder(nn.Module):
    """A timm ViT whose output is the class token (and, with ``patch_mean``, the mean patch
    token) after each chosen block, concatenated."""

    def __init__(
        self,
        model: str,
        blocks: str | list[int],
        image_size: int,
        model_args: dict[str, Any] | None,
        patch_mean: bool = False,
    ) -> None:
        super().__init__()
        self.vit = timm.create_model(
            model.split(".")[0], pretrained=False, num_classes=0, **(model_args or {})
        )
        if getattr(self.vit, "cls_token", None) is None or not hasattr(self.vit, "forward_intermediates"):
            raise ValueError(f"model {model!r} is not a ViT with a class token")
        depth = len(self.vit.blocks)
        indices = list(range(depth)) if blocks == "all" else [int(b) for b in blocks]
        if not indices or any(not -depth <= b < depth for b in indices):
            raise ValueError(f"blocks must be 'all' or indices in [-{depth}, {depth}); got {blocks!r}")
        self.indices = sorted({b % depth for b in indices})
        self.image_size = image_size
        self.patch_mean = patch_mean
        cfg = self.vit.pretrained_cfg
        self.register_buffer("mean", torch.tensor(cfg.get("mean", (0.5,) * 3)).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(cfg.get("std", (0.5,) * 3)).view(1, 3, 1, 1))

    def load(self, path: Path) -> None:
        """Pretrained weights into the ViT; timm's filter maps other layouts (open_clip) and
        resamples the position embedding to this input size (DINOv2's are made at 518)."""
        from timm.models.vision_transformer import checkpoint_filter_fn

        state = checkpoint_filter_fn(read_state_dict(path), self.vit)
        missing, _ = self.vit.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("head")]
        if missing:
            raise ValueError(f"{path}: not weights of this model; missing {missing[:5]}")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] -> the backbone's normalisation at its input size -> tokens."""
        x = (images.float() + 1) / 2
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size,) * 2, mode="bicubic", align_corners=False).clamp(0, 1)
        x = (x - self.mean) / self.std
        outputs = self.vit.forward_intermediates(
            x, indices=self.indices, return_prefix_tokens=True, intermediates_only=True, output_fmt="NLC"
        )
        tokens = [prefix[:, 0] for _, prefix in outputs]  # the class token (register tokens follow it)
        if self.patch_mean:
            tokens += [patches.mean(dim=1) for patches, _ in outputs]
        return torch.cat(tokens, dim=1)


class FrozenViTFeatures(AttributionMethod):
    """Base of the frozen pretrained ViT baselines: weights rules, the encoder, both heads.

    A subclass names itself (``method_name``), its default timm model (``default_model``),
    the class name in its cache key (``key_class``) and what its random-init rows say
    (``random_note``); its ``__init__`` calls ``save_hyperparameters`` then ``build``.
    """

    method_name: ClassVar[str] = ""
    default_model: ClassVar[str] = ""
    key_class: ClassVar[str] = ""
    random_note: ClassVar[str] = ""

    def build(
        self,
        model: str,
        blocks: str | list[int],
        image_size: int,
        head: str,
        weights_path: str | None,
        model_args: dict[str, Any] | None,
        init_seed: int,
        random_init: bool,
        patch_mean: bool = False,
    ) -> None:
        """The frozen encoder with its pretrained weights (or the labelled random-init control)."""
        name = self.method_name
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; valid: {HEADS}")
        with torch.random.fork_rng():  # random weights (when no pretrained ones) depend on init_seed only
            torch.manual_seed(init_seed)
            encoder = ClassTokenEncoder(model, blocks, image_size, model_args, patch_mean)
        self.encoder = encoder.eval().requires_grad_(False)
        if random_init and weights_path:
            raise ConfigError(f"{name}: random_init and weights_path contradict each other; give one")
        path = None if random_init else Path(weights_path) if weights_path else cached_hub_weights(model)
        if weights_path and not random_init and not path.is_file():
            raise MissingWeightsError(f"{name}: no weights file at {weights_path}")
        if path is None and not random_init and "." in model:  # a tagged model names pretrained weights
            if not hub_is_reachable():
                raise MissingWeightsError(f"{name}: {weights_hint(name, model)}")
            path = fetch_hub_weights(name, model)
        if path is not None:
            self.encoder.load(path)
            self.weights_digest = file_digest(path)
            self.weights_note = f"pretrained ({path.name}, digest {self.weights_digest})"
        else:
            self.weights_note = self.random_note
            self.weights_digest = "random-init"
        self.knn: CosineKNN | None = None

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    @classmethod
    def unavailable(cls, args: dict[str, Any]) -> str | None:
        """Weights that are neither here nor downloadable leave a run of every method without
        this method, with this line, rather than CPU hours spent on a random-init ViT that
        measures nothing of the method (weights the Hub can give are fetched now, once)."""
        if args.get("random_init"):
            return None
        try:
            cls.fetch_weights(args)  # from the cache, or downloaded now where the Hub answers
        except MissingWeightsError as error:
            return str(error)
        return None

    @classmethod
    def local_weights(cls, args: dict[str, Any]) -> Path | None:
        """The pretrained file these arguments would load, if it is on this machine (never
        downloads): ``weights_path``, else the Hugging Face cache entry."""
        if args.get("random_init"):
            return None
        if args.get("weights_path"):
            path = Path(args["weights_path"])
            return path if path.is_file() else None
        return cached_hub_weights(args.get("model", cls.default_model))

    @classmethod
    def fetch_weights(cls, args: dict[str, Any]) -> Path | None:
        model = args.get("model", cls.default_model)
        if args.get("weights_path"):
            return Path(args["weights_path"])
        if "." not in model:
            return None
        return cached_hub_weights(model) or fetch_hub_weights(cls.method_name, model)

    @classmethod
    def input_files(cls, args: dict[str, Any]) -> dict[str, str]:
        """The pretrained file's digest, where it is here: recorded with every cell (the run's
        provenance) and part of its key, so other weights are other cells. Without weights
        nothing is added, so the cells of a machine without them keep the keys they had."""
        path = cls.local_weights(args)
        return {"weights": file_digest(path)} if path is not None else {}

    def method_key(self) -> str:
        """The backbone's identity only: both heads (and any probe sweep) share cached features."""
        backbone = {k: v for k, v in self.hparams.items() if k not in ("head", "knn_k")}
        return config_hash({"class": self.key_class, "backbone": backbone, "weights": self.weights_digest})

    def fit_head(self, train: Features, val: Features, seed: int) -> dict[str, Any]:
        if self.hparams.head == "knn":
            self.knn = CosineKNN(self.hparams.knn_k or (1, 5, 10, 20))
            return self.knn.fit(train.values, train.labels, val.values, val.labels)
        self.head = LinearProbe(seed=seed)
        return self.head.fit(train.values, train.labels, val.values, val.labels)

    def _fitted_knn(self) -> CosineKNN:
        if self.knn is None:
            raise RuntimeError(f"{self.method_name}: fit_head must run before logits or scores")
        return self.knn

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        if self.hparams.head == "knn":
            return self._fitted_knn().logits(features)
        return super().logits(features)

    def open_set_score(self, features: torch.Tensor) -> torch.Tensor:
        if self.hparams.head == "knn":
            return self._fitted_knn().best_similarity(features)
        return super().open_set_score(features)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        return features.float()
