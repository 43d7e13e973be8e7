"""The supervised attribution CNN (Yu, Davis & Fritz, "Attributing fake images to GANs:
learning and analyzing GAN fingerprints", ICCV 2019).

A convolutional classifier trained with cross-entropy to say which known generator made an
image - the classic attribution network. Closed set: its own softmax; open set: the maximum
softmax probability (Hendrycks & Gimpel 2017), as the issue and POSE's comparisons use it;
zero shot: its penultimate (globally pooled) features compared by cosine similarity
(``zero_shot_embedding: raw``), or those features whitened by the known generators'
within-generator covariance first (``whitened``, the flagship's option:
:mod:`lightning_modules.zero_shot_embedding`).

Scaled for CPU: Yu et al. train their own multi-layer CNN on 128 x 128 images for many
epochs; here a timm backbone (default: ResNet-18 at half width, stride-1 stem and no
max-pool so 32 x 32 images keep their high frequencies - the same adaptation as the
flagship's network) trained for ``epochs`` passes over the known generators' training
images, with the epoch of best known-validation accuracy kept. Input: the image itself (the
paper's image-based network). Weights are cached per (configuration, data hash, seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassAccuracy

from lightning_modules import register_method
from lightning_modules.base import Features
from lightning_modules.optim import adamw_warmup_cosine
from lightning_modules.real_training import fit_keeping_best, hardware_args, labelled_tensors, shuffled_loader
from lightning_modules.synthetic_fingerprint.network import DEFAULT_BACKBONE_ARGS, adapt_stem
from lightning_modules.trained import TrainedMethod
from lightning_modules.zero_shot_embedding import WhitenableZeroShot


@register_method("supervised_cnn")
class SupervisedCNNMethod(WhitenableZeroShot, TrainedMethod):
    """timm CNN trained with cross-entropy on the known generators (Yu et al. 2019); max-softmax open set.

    Args:
        backbone: a timm model name; ``backbone_args`` go to ``timm.create_model``.
        stem_stride: stride of the first convolution (1 keeps 32 x 32 detail); the stem max-pool is dropped.
        epochs, batch_size, lr, weight_decay, warmup_fraction: training (AdamW, warm-up + cosine).
        retrain: train again even where shipped or cached weights match.
        hardware: where it trains - ``accelerator``, ``devices``, ``strategy``, ``num_nodes``
            (see :func:`lightning_modules.real_training.hardware_args`); not part of its key.
        delivery: the flagship's delivery-chain augmentation on the training images (``true``
            or a mapping; :mod:`datamodules.synthetic.delivery`); unset keeps the shipped key.
        zero_shot_embedding: ``raw`` (the penultimate features) or ``whitened``;
            whitening_shrinkage: the whitening's regularisation (neither is part of any key).
    """

    weights_kind = "supervised-cnn"
    weights_note = "trained on the known real generators"

    def __init__(
        self,
        backbone: str = "resnet18",
        backbone_args: dict[str, Any] | None = None,
        stem_stride: int = 1,
        epochs: int = 10,
        batch_size: int = 64,
        lr: float = 2e-3,
        weight_decay: float = 5e-4,
        warmup_fraction: float = 0.05,
        retrain: bool = False,
        hardware: dict[str, Any] | None = None,
        delivery: dict[str, Any] | bool | None = None,
        zero_shot_embedding: str = "raw",
        whitening_shrinkage: float = 1e-3,
    ) -> None:
        super().__init__()
        hardware_args("supervised_cnn", hardware)
        self.choose_zero_shot_embedding(zero_shot_embedding, whitening_shrinkage)
        self.save_hyperparameters()
        self.net: torch.nn.Module | None = None
        self.train_accuracy: MulticlassAccuracy | None = None
        self.val_accuracy: MulticlassAccuracy | None = None

    def build(self, num_known: int, seed: int = 0) -> torch.nn.Module:
        """The network with a ``num_known``-way classifier (initialised from the global seed,
        which ``fit_extractor`` sets); the network is the cached weights, not its metrics."""
        args = backbone_args = self.hparams.backbone_args
        if backbone_args is None and self.hparams.backbone == "resnet18":
            args = DEFAULT_BACKBONE_ARGS
        body = timm.create_model(
            self.hparams.backbone, pretrained=False, num_classes=num_known, **(args or {})
        )
        self.net = adapt_stem(body, self.hparams.stem_stride, keep_stem_pool=False)
        self.train_accuracy = MulticlassAccuracy(num_known, average="micro")
        self.val_accuracy = MulticlassAccuracy(num_known, average="micro")
        return self.net

    def _network(self) -> torch.nn.Module:
        if self.net is None:
            raise RuntimeError("supervised_cnn: fit_extractor must run before features")
        return self.net

    # -- training (Lightning hooks) ----------------------------------------------------------
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self._network()(images)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        self.train_accuracy(logits, labels)
        self.log_dict({"train/ce": loss, "train/accuracy": self.train_accuracy}, prog_bar=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        images, labels = batch
        logits = self(images)
        self.val_accuracy(logits, labels)
        self.log_dict({"val/ce": F.cross_entropy(logits, labels), "val/accuracy": self.val_accuracy})

    def configure_optimizers(self) -> dict[str, Any]:
        h = self.hparams
        return adamw_warmup_cosine(
            self, h.lr, h.weight_decay, h.warmup_fraction, self._network().parameters()
        )

    def train_weights(self, train: Any, val: Any, seed: int, directory: Path) -> dict[str, Any]:
        """Train on known-train and keep the epoch of best known-val accuracy."""
        hardware = hardware_args("supervised_cnn", self.hparams.hardware)
        return fit_keeping_best(
            self,
            shuffled_loader(train, self.hparams.batch_size, seed, hardware, delivery=self.hparams.delivery),
            DataLoader(labelled_tensors(val), batch_size=256),
            epochs=self.hparams.epochs,
            workdir=directory / "lightning",
            hardware=hardware,
        )

    # -- attribution --------------------------------------------------------------------------
    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate features: the globally pooled output before the classifier."""
        net = self._network().eval()
        return net.forward_head(net.forward_features(images), pre_logits=True)

    def fit_head(self, train: Features, val: Features, seed: int) -> dict[str, Any]:
        """Nothing to fit but the whitening, where chosen: the classifier was trained with the network."""
        self.fit_whitening(train)
        return {"val_accuracy": float((self.logits(val.values).argmax(1) == val.labels).float().mean())}

    @torch.no_grad()
    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self._network().get_classifier()(features.float())
