"""Training the fingerprint extractor: cross-entropy over model identities + batch-hard triplet.

The objective of Yang et al. (arXiv 2307.15977): classify which (synthetic) model made an
image, and pull a model's images together / push other models' apart in embedding space.
The same module trains the control on *real* known generators - only the data differs.

Validation either classifies held-out *images* of the training models (``zero_shot_val``
off: closed-set accuracy) or, as the method is used, matches held-out *models* zero shot
(``zero_shot_val`` on): each validation model's first half of images is its gallery, the
rest are queries matched to the nearest gallery centroid (identification accuracy), and
every pair of validation images is a verification trial (AUROC of cosine similarity).

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
from torchmetrics.functional.classification import binary_auroc

from core.metrics.attribution import nearest_centroid
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
        zero_shot_val: validation images come from held-out models: score zero-shot matching.
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
        zero_shot_val: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = FingerprintNet(**(net or {}))
        self.classifier = nn.Linear(self.net.embedding.out_features, num_classes)
        self.train_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self._val_embeddings: list[torch.Tensor] = []
        self._val_labels: list[torch.Tensor] = []

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
        if self.hparams.zero_shot_val:
            self._val_embeddings.append(self.net.fingerprint(batch[0]).detach())
            self._val_labels.append(batch[1].long())
            return
        ce, triplet, logits, labels = self._losses(batch)
        self.val_accuracy(logits, labels)
        self.log_dict(
            {"val/ce": ce, "val/triplet": triplet, "val/accuracy": self.val_accuracy}, prog_bar=True
        )

    def on_validation_epoch_end(self) -> None:
        if not self._val_embeddings:
            return
        embeddings, labels = torch.cat(self._val_embeddings), torch.cat(self._val_labels)
        self._val_embeddings, self._val_labels = [], []
        self.log_dict(zero_shot_scores(embeddings, labels), prog_bar=True)

    def configure_optimizers(self) -> dict[str, Any]:
        return adamw_warmup_cosine(
            self, self.hparams.lr, self.hparams.weight_decay, self.hparams.warmup_fraction
        )


def zero_shot_scores(embeddings: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Zero-shot identification (half of each model's images as gallery) and verification
    AUROC (every pair) of L2-normalised embeddings of held-out models."""
    gallery = torch.zeros(len(labels), dtype=torch.bool)
    for label in labels.unique():
        members = (labels == label).nonzero().flatten()
        gallery[members[: max(1, len(members) // 2)]] = True
    predicted = nearest_centroid(embeddings[~gallery], embeddings[gallery], labels[gallery])
    identification = (predicted == labels[~gallery]).float().mean()
    upper = torch.triu_indices(len(labels), len(labels), offset=1)
    similarity = (embeddings @ embeddings.T)[upper[0], upper[1]]
    same = (labels[:, None] == labels[None, :])[upper[0], upper[1]]
    return {
        "val/zs_identification": identification,
        "val/zs_verification_auroc": binary_auroc(similarity, same.long()),
    }
