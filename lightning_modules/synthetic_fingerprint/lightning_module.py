"""Training the fingerprint extractor: cross-entropy over model identities + batch-hard triplet.

The objective of Yang et al. (arXiv 2307.15977): classify which (synthetic) model made an
image, and pull a model's images together / push other models' apart in embedding space.
The same module trains the control on *real* known generators - only the data differs.

Batches are ``(images, labels, ...)`` with P models x K images (so every anchor has
positives for the triplet term). Optimiser: AdamW with linear warm-up then cosine decay
over the run's steps (the paper's optimiser is not the point at this scale; configurable).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from lightning_modules.optim import adamw_warmup_cosine
from lightning_modules.synthetic_fingerprint.network import FingerprintNet, batch_hard_triplet_loss


class FingerprintTraining(L.LightningModule):
    """Trains a :class:`FingerprintNet` with ``CE + triplet_weight * triplet``.

    Args:
        num_classes: model identities in the training set.
        net: :class:`FingerprintNet` arguments.
        triplet_weight: weight of the triplet term (0 gives plain cross-entropy, Yu et al. 2019).
        margin: triplet margin on cosine distance.
        lr, weight_decay: AdamW.
        warmup_fraction: share of steps with linear warm-up.
    """

    def __init__(
        self,
        num_classes: int,
        net: dict[str, Any] | None = None,
        triplet_weight: float = 1.0,
        margin: float = 0.3,
        lr: float = 2e-3,
        weight_decay: float = 5e-4,
        warmup_fraction: float = 0.03,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = FingerprintNet(**(net or {}))
        self.classifier = nn.Linear(self.net.embedding.out_features, num_classes)
        self.train_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.fingerprint(images)

    def _losses(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        images, labels = batch[0], batch[1].long()
        embeddings = self.net(images)
        logits = self.classifier(embeddings)
        ce = F.cross_entropy(logits, labels)
        triplet = batch_hard_triplet_loss(embeddings, labels, self.hparams.margin)
        return ce, triplet, logits, labels

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        ce, triplet, logits, labels = self._losses(batch)
        loss = ce + self.hparams.triplet_weight * triplet
        self.train_accuracy(logits, labels)
        self.log_dict(
            {
                "train/loss": loss,
                "train/ce": ce,
                "train/triplet": triplet,
                "train/accuracy": self.train_accuracy,
            },
            prog_bar=True,
        )
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        ce, triplet, logits, labels = self._losses(batch)
        self.val_accuracy(logits, labels)
        self.log_dict(
            {"val/ce": ce, "val/triplet": triplet, "val/accuracy": self.val_accuracy}, prog_bar=True
        )

    def configure_optimizers(self) -> dict[str, Any]:
        return adamw_warmup_cosine(
            self, self.hparams.lr, self.hparams.weight_decay, self.hparams.warmup_fraction
        )
