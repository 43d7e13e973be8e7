"""CLIP features for model attribution (Cioni, Tzelepis, Seidenari & Patras, "Are CLIP features
all you need for universal synthetic image origin attribution?", ECCV-W 2024).

A *frozen* CLIP ViT image encoder; an image's feature is the class token after chosen
transformer blocks - the last one, a list, or every block concatenated (``blocks: all``, the
paper's finding: intermediate blocks carry the low-level traces a generator leaves, which
the last block's semantic token has mostly discarded). On top, nothing CLIP-specific:

* ``head: logistic`` - the logistic-regression probe of the paper for closed and open set;
  its regularisation C is chosen on the known generators' validation images only; the
  open-set score is the maximum softmax probability;
* ``head: knn`` - the k-NN variant: cosine similarity to the known generators' training
  features, k chosen on validation accuracy; logits are the per-generator sums of the top-k
  similarities, the open-set score the best cosine similarity to any known training image;
* zero shot: cosine similarity of the features themselves (the embedding is the feature).

Weights: ``weights_path`` (a local ``.safetensors`` / ``.bin`` / ``.pth`` state dict, open_clip
or timm layout), else the Hugging Face cache entry of the timm model (``*.openai``), else - when
the Hub can be reached (``HF_HUB_OFFLINE`` unset) - downloaded into that cache once
(``modelprint weights fetch`` does it on demand), its digest recorded with every run. Where none
of these can be had, the method is left out of a run of every method with one line saying how
to get the weights, and is an error when named. ``random_init: true`` is the random-init
control: the architecture with random weights, and every leaderboard row says so (``weights``
column) - those figures measure the architecture, not CLIP.

Scaled for CPU: ViT-B/32 (``vit_base_patch32_clip_quickgelu_224.openai``, the OpenAI
weights' native QuickGELU variant) instead of the paper's ViT-L/14; the input size stays
CLIP's 224 (the zoo's 32 x 32 images are up-sampled bicubically, CLIP's own interpolation).
``model: vit_large_patch14_clip_quickgelu_224.openai`` gives the paper's encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ConfigError, MissingWeightsError
from core.hashing import config_hash, file_digest
from lightning_modules import register_method
from lightning_modules.base import AttributionMethod, Features
from lightning_modules.heads import CosineKNN, LinearProbe

HEADS = ("logistic", "knn")
HF_WEIGHT_FILES = (
    "open_clip_model.safetensors",
    "model.safetensors",
    "open_clip_pytorch_model.bin",
    "pytorch_model.bin",
)


def cached_hub_weights(model: str, cache_dir: str | Path | None = None) -> Path | None:
    """The model's pretrained file in the local Hugging Face cache, or None; never downloads."""
    from huggingface_hub import try_to_load_from_cache

    hub_id = timm.models.get_pretrained_cfg(model).hf_hub_id if "." in model else None
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


def fetch_hub_weights(model: str) -> Path:
    """Download the model's pretrained file into the Hugging Face cache (once) and return it."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError

    hub_id = timm.models.get_pretrained_cfg(model).hf_hub_id if "." in model else None
    if not hub_id:
        raise MissingWeightsError(f"{model!r} names no pretrained weights on the Hub (no .tag)")
    if not hub_is_reachable():
        raise MissingWeightsError(f"clip_features: {weights_hint(model)}")
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


def weights_hint(model: str) -> str:
    return (
        f"no pretrained weights for {model} here (not in the Hugging Face cache, and the Hub is "
        "off or unreachable): run `modelprint weights fetch` where the Hub can be reached, or pass "
        "weights_path; the random-init control runs with --method_args='{clip_features: {random_init: true}}'"
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from safetensors, or a pickle read with ``weights_only=True`` (never code)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


class ClassTokenEncoder(nn.Module):
    """A timm ViT whose output is the class token after each chosen block, concatenated."""

    def __init__(
        self, model: str, blocks: str | list[int], image_size: int, model_args: dict[str, Any] | None
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
        cfg = self.vit.pretrained_cfg
        self.register_buffer("mean", torch.tensor(cfg.get("mean", (0.5,) * 3)).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(cfg.get("std", (0.5,) * 3)).view(1, 3, 1, 1))

    def load(self, path: Path) -> None:
        from timm.models.vision_transformer import checkpoint_filter_fn

        state = checkpoint_filter_fn(read_state_dict(path), self.vit)
        missing, _ = self.vit.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("head")]
        if missing:
            raise ValueError(f"{path}: not weights of this model; missing {missing[:5]}")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] -> CLIP's normalisation at its input size -> class tokens."""
        x = (images.float() + 1) / 2
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size,) * 2, mode="bicubic", align_corners=False).clamp(0, 1)
        x = (x - self.mean) / self.std
        outputs = self.vit.forward_intermediates(
            x, indices=self.indices, return_prefix_tokens=True, intermediates_only=True, output_fmt="NLC"
        )
        return torch.cat([prefix[:, 0] for _, prefix in outputs], dim=1)


@register_method("clip_features")
class ClipFeaturesMethod(AttributionMethod):
    """Frozen CLIP ViT class tokens of chosen blocks + logistic probe or cosine k-NN (Cioni et al. 2024).

    Args:
        model: a timm ViT name; the tag (``.openai``) names the pretrained weights to look for.
        blocks: ``all`` (every block's class token, concatenated) or a list of block indices.
        image_size: the encoder's input size (CLIP's 224).
        head: ``logistic`` (probe, max-softmax open-set score) or ``knn`` (cosine k-NN).
        weights_path: a local state dict; default: the Hugging Face cache, else random weights.
        model_args: extra ``timm.create_model`` arguments (tests build a tiny ViT this way).
        knn_k: the k-NN head's candidate k values (chosen on validation accuracy).
        init_seed: seeds the random weights of the random-init control.
        random_init: the random-init control - the architecture with random weights, labelled
            so on every row; without it, missing weights are fetched from the Hub when it can be
            reached and otherwise are an error naming how to get them.
    """

    def __init__(
        self,
        model: str = "vit_base_patch32_clip_quickgelu_224.openai",
        blocks: str | list[int] = "all",
        image_size: int = 224,
        head: str = "logistic",
        weights_path: str | None = None,
        model_args: dict[str, Any] | None = None,
        knn_k: list[int] | None = None,
        init_seed: int = 0,
        random_init: bool = False,
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; valid: {HEADS}")
        self.save_hyperparameters()
        with torch.random.fork_rng():  # random weights (when no pretrained ones) depend on init_seed only
            torch.manual_seed(init_seed)
            encoder = ClassTokenEncoder(model, blocks, image_size, model_args)
        self.encoder = encoder.eval().requires_grad_(False)
        if random_init and weights_path:
            raise ConfigError("clip_features: random_init and weights_path contradict each other; give one")
        path = None if random_init else Path(weights_path) if weights_path else cached_hub_weights(model)
        if weights_path and not random_init and not path.is_file():
            raise MissingWeightsError(f"clip_features: no weights file at {weights_path}")
        if path is None and not random_init and "." in model:  # a tagged model names pretrained weights
            if not hub_is_reachable():
                raise MissingWeightsError(f"clip_features: {weights_hint(model)}")
            path = fetch_hub_weights(model)
        if path is not None:
            self.encoder.load(path)
            self.weights_note = f"pretrained ({path.name})"
            self.weights_digest = file_digest(path)
        else:
            self.weights_note = "RANDOM INIT control (random_init: true; not CLIP's figures)"
            self.weights_digest = "random-init"
        self.knn: CosineKNN | None = None

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    @classmethod
    def unavailable(cls, args: dict[str, Any]) -> str | None:
        """Weights that are neither here nor downloadable leave a run of every method without
        CLIP, with this line, rather than 40 CPU minutes spent on a random-init ViT that measures
        no CLIP (weights the Hub can give are fetched now, once)."""
        if args.get("random_init"):
            return None
        try:
            cls.fetch_weights(args)  # from the cache, or downloaded now where the Hub answers
        except MissingWeightsError as error:
            return str(error)
        return None

    @classmethod
    def fetch_weights(cls, args: dict[str, Any]) -> Path | None:
        model = args.get("model", "vit_base_patch32_clip_quickgelu_224.openai")
        if args.get("weights_path"):
            return Path(args["weights_path"])
        if "." not in model:
            return None
        return cached_hub_weights(model) or fetch_hub_weights(model)

    def method_key(self) -> str:
        """The backbone's identity only: both heads (and any probe sweep) share cached features."""
        backbone = {k: v for k, v in self.hparams.items() if k not in ("head", "knn_k")}
        return config_hash({"class": "ClipFeatures", "backbone": backbone, "weights": self.weights_digest})

    def fit_head(self, train: Features, val: Features, seed: int) -> dict[str, Any]:
        if self.hparams.head == "knn":
            self.knn = CosineKNN(self.hparams.knn_k or (1, 5, 10, 20))
            return self.knn.fit(train.values, train.labels, val.values, val.labels)
        self.head = LinearProbe(seed=seed)
        return self.head.fit(train.values, train.labels, val.values, val.labels)

    def _fitted_knn(self) -> CosineKNN:
        if self.knn is None:
            raise RuntimeError("clip_features: fit_head must run before logits or scores")
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


@register_method("clip_features_knn")
class ClipFeaturesKNNMethod(ClipFeaturesMethod):
    """CLIP features with the cosine k-NN head (Cioni et al. 2024's k-NN variant); same features."""

    def __init__(self, head: str = "knn", **kwargs: Any) -> None:
        super().__init__(head=head, **kwargs)
