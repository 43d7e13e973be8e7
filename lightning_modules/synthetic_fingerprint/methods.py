"""The flagship method and its two controls, all on the same :class:`FingerprintNet`.

* ``synthetic_fingerprint`` (Yang et al., "Model Synthesis for Zero-Shot Model Attribution",
  arXiv 2307.15977): the extractor trained on synthetic models only - it never sees a real
  generator's image. By default it loads the checkpoint that ``modelprint extractor train``
  produced and that ships in ``lightning_modules/synthetic_fingerprint/checkpoint/`` (with
  its config, training log and summary: the configuration is there, not here);
  ``retrain=True`` (``modelprint run --retrain``) trains from scratch with the training
  config (``configs/extractor/shipped.yaml`` unless ``training_config`` says otherwise).
  Scaled for CPU: a half-width ResNet-18 instead of ResNet-50, 32 x 32 images, and a
  training budget of minutes instead of the paper's ~8 M images.
* ``fingerprint_random`` (control): the same network with random weights - what the
  architecture alone gives.
* ``fingerprint_real`` (control): the same network and objective trained on the *known
  real* generators' training images instead (the classic supervised attribution network,
  cf. Yu, Davis & Fritz 2019, plus the triplet term), its epoch chosen on the known
  generators' validation images. Weights are cached per (config, data hash, seed).

Zero shot compares embeddings by cosine similarity: as they are (``zero_shot_embedding: raw``,
the paper's matching and the constructor's default), standardised with known-train statistics
first (``standardised``), or whitened by the known generators' within-generator covariance
(``whitened``: WCCN, :class:`~lightning_modules.heads.WithinClassWhitening`), which the
methods' YAML in ``configs/methods/`` choose: it was the best on the selection split, zero shot
among known generators the whitening was not fitted on (docs/flagship.md);
closed and open set fit the base class's logistic-regression probe on the known
generators' embeddings (model selection on their validation images only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from core.hashing import config_hash, file_digest
from core.paths import cache_dir, config_file
from lightning_modules import register_method
from lightning_modules.base import AttributionMethod
from lightning_modules.real_training import (
    hardware_args,
    train_on_labelled_images,
    training_key,
    weights_directory,
)
from lightning_modules.synthetic_fingerprint.network import FingerprintNet
from lightning_modules.synthetic_fingerprint.training import (
    WEIGHTS_FILE,
    ExtractorTrainingConfig,
    load_extractor,
    train_extractor,
)
from lightning_modules.trained import WeightsKeyed
from lightning_modules.zero_shot_embedding import WhitenableZeroShot

SHIPPED_CHECKPOINT = Path(__file__).resolve().parent / "checkpoint"
#: the controls' network comes from here (the flagship's network, trained in minutes)
TRAINING_CONFIG = config_file("extractor", "cpu.yaml")
#: what the shipped checkpoint was trained with; ``--retrain`` trains it again
SHIPPED_TRAINING_CONFIG = config_file("extractor", "shipped.yaml")


class FingerprintMethod(WhitenableZeroShot, WeightsKeyed):
    """Features are the network's L2-normalised embeddings; zero shot compares them by cosine,
    raw (the paper's matching), standardised with known-train statistics (as ``spectral`` and
    ``clip_features`` do), or whitened by the known generators' within-generator covariance
    (``zero_shot_embedding``; ``whitening_shrinkage`` regularises that covariance, see
    :class:`~lightning_modules.heads.WithinClassWhitening`)."""

    own_embeddings = ("raw", "standardised")
    always_fit_whitening = True  # a 128 x 128 factorisation: fitted whatever the embedding

    def __init__(self, zero_shot_embedding: str = "raw", whitening_shrinkage: float = 1e-3) -> None:
        super().__init__()
        self.choose_zero_shot_embedding(zero_shot_embedding, whitening_shrinkage)
        self.net: FingerprintNet | None = None

    def own_embedding(self, features: torch.Tensor) -> torch.Tensor:
        if self.zero_shot_embedding == "standardised":
            return AttributionMethod.embed(self, features)
        return features

    def _network(self) -> FingerprintNet:
        if self.net is None:
            raise RuntimeError(f"{type(self).__name__}: fit_extractor must run before features")
        return self.net

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self._network().eval().fingerprint(images)


@register_method("synthetic_fingerprint")
class SyntheticFingerprintMethod(FingerprintMethod):
    """Extractor trained on synthetic models only (Yang et al. 2023); see the module docstring.

    Args:
        checkpoint: a run directory of ``modelprint extractor train`` (default: the shipped one).
        retrain: train from scratch with ``training_config`` instead of loading.
        training_config: the training YAML used when retraining (default: ``shipped.yaml``,
            which made the shipped checkpoint).
        num_models, backbone: overrides of that YAML when retraining (the sweep's knobs).
        zero_shot_embedding: ``raw`` (the paper's cosine), ``standardised`` or ``whitened``
            (see above); whitening_shrinkage: the whitened embedding's regularisation.
    """

    def __init__(
        self,
        checkpoint: str | None = None,
        retrain: bool = False,
        training_config: str | None = None,
        num_models: int | None = None,
        backbone: str | None = None,
        zero_shot_embedding: str = "raw",
        whitening_shrinkage: float = 1e-3,
    ) -> None:
        super().__init__(zero_shot_embedding, whitening_shrinkage)
        if not retrain and (num_models is not None or backbone is not None):
            raise ValueError("synthetic_fingerprint: num_models / backbone apply only with retrain=true")
        self.save_hyperparameters()

    @classmethod
    def input_files(cls, args: dict[str, Any]) -> dict[str, str]:
        """The training config when retraining; otherwise the checkpoint's config and weights."""
        if args.get("retrain"):
            return digests([Path(args.get("training_config") or SHIPPED_TRAINING_CONFIG)])
        checkpoint = Path(args.get("checkpoint") or SHIPPED_CHECKPOINT)
        return digests([checkpoint / "config.yaml", checkpoint / WEIGHTS_FILE])

    def fit_extractor(self, train: Any, val: Any, seed: int) -> dict[str, Any]:
        """Never looks at ``train``/``val`` (real known generators): synthetic data only."""
        if self.hparams.retrain:
            cfg = ExtractorTrainingConfig.from_yaml(
                self.hparams.training_config or SHIPPED_TRAINING_CONFIG, seed=seed
            )
            if self.hparams.num_models is not None:
                cfg.data = {**cfg.data, "num_models": self.hparams.num_models}
            if self.hparams.backbone is not None:
                cfg.net = {**cfg.net, "backbone": self.hparams.backbone}
            directory = cache_dir() / "extractors" / cfg.key()
            train_extractor(cfg, directory, quiet=True)
            self.weights_note = f"retrained on synthetic models only (seed {seed})"
        else:
            directory = Path(self.hparams.checkpoint or SHIPPED_CHECKPOINT)
            self.weights_note = "trained on synthetic models only (shipped checkpoint)"
        self.net = load_extractor(directory)
        self.input_size = ExtractorTrainingConfig.from_yaml(directory / "config.yaml").data.get(
            "resolution", 32
        )
        self.weights_digest = file_digest(directory / WEIGHTS_FILE)
        summary_file = directory / "summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        return {"checkpoint": str(directory), "weights": self.weights_digest, "training": summary}


class ControlMethod(FingerprintMethod):
    """A control: the flagship's network (``net`` of its training config), other weights."""

    @classmethod
    def input_files(cls, args: dict[str, Any]) -> dict[str, str]:
        """Only the training config's ``net`` section: all a control takes from it."""
        path = Path(args.get("training_config") or TRAINING_CONFIG)
        return {f"{path.name}:net": config_hash(ExtractorTrainingConfig.from_yaml(path).net)}


def digests(paths: list[Path]) -> dict[str, str]:
    """``{file name: content digest}`` of files that exist (a missing one is reported on use)."""
    return {path.name: file_digest(path) for path in paths if path.is_file()}


@register_method("fingerprint_random")
class RandomFingerprintMethod(ControlMethod):
    """Control: the flagship's network with random weights (seeded), nothing trained."""

    weights_note = "random init (control)"

    def __init__(
        self,
        training_config: str | None = None,
        zero_shot_embedding: str = "raw",
        whitening_shrinkage: float = 1e-3,
    ) -> None:
        super().__init__(zero_shot_embedding, whitening_shrinkage)
        self.save_hyperparameters()

    def fit_extractor(self, train: Any, val: Any, seed: int) -> dict[str, Any]:
        cfg = ExtractorTrainingConfig.from_yaml(self.hparams.training_config or TRAINING_CONFIG)
        torch.manual_seed(seed)
        self.net = FingerprintNet(**cfg.net)
        self.weights_digest = f"random-seed{seed}"
        return {"weights": self.weights_digest}


@register_method("fingerprint_real")
class RealFingerprintMethod(ControlMethod):
    """Control: the flagship's network and objective trained on the known real generators.

    Args:
        training_config: the network comes from this YAML's ``net`` section.
        epochs: passes over the known generators' training images.
        models_per_batch, images_per_model: the P x K batch (P distinct generators).
        triplet_weight: 0 turns the objective into plain cross-entropy (Yu et al. 2019).
        lr: AdamW learning rate.
        retrain: train again even where shipped or cached weights match.
        hardware: where it trains - ``accelerator``, ``devices``, ``strategy``, ``num_nodes``
            (see :func:`lightning_modules.real_training.hardware_args`); not part of its key.
        delivery: the flagship's delivery-chain augmentation on the training images (``true``
            for the default chain, a mapping for its settings; see
            :mod:`datamodules.synthetic.delivery`), so the control can match a robust flagship.
        zero_shot_embedding, whitening_shrinkage: as the flagship's (not part of the training key).
    """

    weights_note = "trained on the known real generators (control)"

    def __init__(
        self,
        training_config: str | None = None,
        epochs: int = 12,
        models_per_batch: int = 8,
        images_per_model: int = 8,
        triplet_weight: float = 1.0,
        lr: float = 2e-3,
        retrain: bool = False,
        hardware: dict[str, Any] | None = None,
        delivery: dict[str, Any] | bool | None = None,
        zero_shot_embedding: str = "raw",
        whitening_shrinkage: float = 1e-3,
    ) -> None:
        super().__init__(zero_shot_embedding, whitening_shrinkage)
        hardware_args("fingerprint_real", hardware)
        self.save_hyperparameters()

    def fit_extractor(self, train: Any, val: Any, seed: int) -> dict[str, Any]:
        cfg = ExtractorTrainingConfig.from_yaml(self.hparams.training_config or TRAINING_CONFIG)
        key = training_key(self.feature_hparams(), train.data_hash, seed, net=cfg.net)
        directory, where = weights_directory("extractors-real", key, self.hparams.retrain)
        self.weights_note = f"{type(self).weights_note}: {where}"
        info = train_on_labelled_images(
            net_args=cfg.net,
            train=train,
            val=val,
            out=directory,
            seed=seed,
            epochs=self.hparams.epochs,
            models_per_batch=self.hparams.models_per_batch,
            images_per_model=self.hparams.images_per_model,
            triplet_weight=self.hparams.triplet_weight,
            lr=self.hparams.lr,
            hardware=hardware_args("fingerprint_real", self.hparams.hardware),
            delivery=self.hparams.delivery,
        )
        self.net = load_extractor(directory)
        self.weights_digest = file_digest(directory / WEIGHTS_FILE)
        return {"weights": self.weights_digest, **info}
