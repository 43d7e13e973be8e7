"""POSE: Progressive Open Space Expansion (Yang, Wang, Tang, Zhao, Cao & Tang, "Progressive Open
Space Expansion for Open-Set Model Attribution", CVPR 2023).

Open-set model attribution is hard because an unknown generator's images share the known
ones' semantics and differ only by imperceptible traces. POSE therefore *simulates* the open
space: lightweight augmentation models re-synthesise known images - same content, new
traces - and the task model learns to keep those out of the known classes. As described in
the paper:

* **task model**: an attribution network (here :class:`FingerprintNet`, a timm backbone plus
  an embedding) with a classifier over the K known generators *and* one open-space class;
  known images are classified with cross-entropy plus a triplet term on the embedding;
* **augmentation models**: tiny networks of two convolution layers, each randomly initialised,
  trained with a *reconstruction* loss (their output stays the input image, so the semantics
  are kept, but the reconstruction residual is a new trace);
* **open-space expansion**: the augmented images are classified into the open-space class
  (:func:`open_space_loss`), so the region around the known classes becomes "unknown";
* **diversity constraint**: a newly added augmentation model is pushed away, in the task
  model's embedding space, from what the earlier ones produce from the same image
  (:func:`diversity_loss`: mean cosine similarity, which it minimises), so each one covers
  a new part of the open space;
* **progressive**: augmentation models are added one at a time (after ``warmup_epochs`` on
  known images only, one more every ``epochs_per_augmenter``); only the newest one trains,
  the earlier ones are frozen and keep supplying open-set samples;
* **open-set score**: the maximum softmax probability over the known classes (the open-space
  class takes its share of the probability mass); zero shot uses the L2-normalised embedding.

Where the paper leaves details to its code, the choices here (documented and configurable):
the diversity term is the cosine similarity of embeddings averaged over the earlier models,
the reconstruction loss is L1, AdamW at a constant learning rate for both the task and the
augmentation models, gradient clipping at 1.0, known and augmented images pass the task
model as one batch (so BatchNorm's running statistics describe what it trained on), the
diversity step runs the task model in eval mode, the final epoch is kept (selecting on
known-validation accuracy would favour the epochs before any open space was simulated).
Scaled for CPU: the paper's task model is a ResNet-50 on 128 x 128 images; here the
half-width ResNet-18 of the flagship with a stride-2 stem on 32 x 32 images, 3 augmentation
models instead of the paper's larger set, 16 epochs (the number chosen on known-validation
accuracy: 8 epochs left it at 0.65, 16 at 0.87).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassAccuracy

from core.quiet_trainer import quiet_trainer
from lightning_modules import register_method
from lightning_modules.base import Features
from lightning_modules.real_training import (
    SPAWNING_STRATEGIES,
    hardware_args,
    labelled_tensors,
    shuffled_loader,
)
from lightning_modules.synthetic_fingerprint.network import FingerprintNet, batch_hard_triplet_loss
from lightning_modules.trained import TrainedMethod
from lightning_modules.zero_shot_embedding import WhitenableZeroShot


class AugmentationModel(nn.Module):
    """POSE's lightweight augmentation model: two 3x3 convolutions with a LeakyReLU between."""

    def __init__(self, width: int = 16, kernel_size: int = 3) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.layers = nn.Sequential(
            nn.Conv2d(3, width, kernel_size, padding=padding),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 3, kernel_size, padding=padding),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


def reconstruction_loss(augmented: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """L1 distance to the input: the augmented image keeps the known image's content."""
    return F.l1_loss(augmented, images)


def open_space_loss(augmented_logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy towards the open-space class (the last logit) for augmented images."""
    target = torch.full((len(augmented_logits),), augmented_logits.shape[1] - 1, dtype=torch.long)
    return F.cross_entropy(augmented_logits, target.to(augmented_logits.device))


@contextmanager
def running_statistics_kept(net: nn.Module) -> Iterator[None]:
    """Run ``net`` in eval mode and restore its mode after: its BatchNorm layers normalise with,
    and do not update, their running statistics. The augmentation model's diversity step passes
    only augmented images through the task model; in training mode those passes would pull the
    statistics the task model is tested with towards augmented images (measured: drifted
    statistics cut POSE's closed-set accuracy to 0.670 where its classifier alone reached 0.921)."""
    was_training = net.training
    net.eval()
    try:
        yield
    finally:
        net.train(was_training)


def diversity_loss(new: torch.Tensor, earlier: list[torch.Tensor]) -> torch.Tensor:
    """Mean cosine similarity between the newest augmentation model's embeddings and each earlier
    model's embeddings of the same images (0 when there is no earlier model). Minimised by the
    newest model; 1 when it reproduces an earlier one exactly."""
    if not earlier:
        return new.sum() * 0
    return torch.stack([F.cosine_similarity(new, e, dim=1).mean() for e in earlier]).mean()


@register_method("pose")
class POSEMethod(WhitenableZeroShot, TrainedMethod):
    """Classifier + progressively added augmentation models simulating the open space (Yang et al. 2023).

    Args:
        net: :class:`FingerprintNet` arguments (backbone, stem, input transform, embedding size).
        num_augmenters: augmentation models added over training (0: the plain classifier).
        augmenter_width: channels of an augmentation model's hidden layer.
        epochs: training epochs in all (the same for every ablation).
        warmup_epochs: epochs on known images before the first augmentation model.
        epochs_per_augmenter: epochs each augmentation model is the one training.
        triplet_weight, margin: the triplet term on known images.
        open_space_weight: weight of the open-space classification of augmented images.
        diversity_weight: weight of the diversity constraint (0: the ablation without it).
        batch_size, lr, augmenter_lr, weight_decay: training.
        retrain: train again even where shipped or cached weights match.
        hardware: where it trains - ``accelerator``, ``devices``, ``strategy``, ``num_nodes``
            (see :func:`lightning_modules.real_training.hardware_args`); not part of its key.
        zero_shot_embedding: ``raw`` (the task model's embedding) or ``whitened`` (the
            flagship's option, :mod:`lightning_modules.zero_shot_embedding`);
            whitening_shrinkage: its regularisation (neither is part of any key).
    """

    weights_kind = "pose"
    weights_note = "trained on the known real generators + augmentation models"

    def __init__(
        self,
        net: dict[str, Any] | None = None,
        num_augmenters: int = 3,
        augmenter_width: int = 16,
        epochs: int = 16,
        warmup_epochs: int = 4,
        epochs_per_augmenter: int = 4,
        triplet_weight: float = 1.0,
        margin: float = 0.3,
        open_space_weight: float = 1.0,
        diversity_weight: float = 1.0,
        batch_size: int = 64,
        lr: float = 2e-3,
        augmenter_lr: float = 1e-3,
        weight_decay: float = 5e-4,
        retrain: bool = False,
        hardware: dict[str, Any] | None = None,
        zero_shot_embedding: str = "raw",
        whitening_shrinkage: float = 1e-3,
    ) -> None:
        super().__init__()
        hardware_args("pose", hardware)
        self.choose_zero_shot_embedding(zero_shot_embedding, whitening_shrinkage)
        if warmup_epochs + num_augmenters * epochs_per_augmenter > epochs:
            raise ValueError(
                f"pose: {num_augmenters} augmentation models x {epochs_per_augmenter} epochs after "
                f"{warmup_epochs} warm-up epochs do not fit in {epochs} epochs"
            )
        self.save_hyperparameters()
        if num_augmenters == 0:
            self.training_note = "trained on the known real generators (no augmentation models)"
            self.weights_note = self.training_note
        self.automatic_optimization = False
        self.task_net: FingerprintNet | None = None
        self.classifier: nn.Linear | None = None
        self.augmenters = nn.ModuleList()
        self.val_accuracy: MulticlassAccuracy | None = None
        self.num_known = 0

    def build(self, num_known: int, seed: int) -> nn.Module:
        """Task model and every augmentation model, each with its own seeded random init; all
        of them (the whole module) are the cached weights."""
        torch.manual_seed(seed)
        self.num_known = num_known
        self.task_net = FingerprintNet(**(self.hparams.net or {}))
        self.classifier = nn.Linear(self.task_net.embedding.out_features, num_known + 1)
        self.augmenters = nn.ModuleList()
        for m in range(self.hparams.num_augmenters):
            torch.manual_seed(seed * 1000 + m + 1)
            self.augmenters.append(AugmentationModel(self.hparams.augmenter_width))
        self.val_accuracy = MulticlassAccuracy(num_known, average="micro")
        return self

    def _task(self) -> tuple[FingerprintNet, nn.Linear]:
        if self.task_net is None or self.classifier is None:
            raise RuntimeError("pose: fit_extractor must run before features")
        return self.task_net, self.classifier

    def active_augmenters(self, epoch: int) -> int:
        """How many augmentation models have been added by ``epoch`` (the progressive schedule)."""
        h = self.hparams
        if h.num_augmenters == 0 or epoch < h.warmup_epochs:
            return 0
        return min(h.num_augmenters, 1 + (epoch - h.warmup_epochs) // h.epochs_per_augmenter)

    # -- training (Lightning hooks, manual optimisation: task model and newest augmenter) ----------
    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        h = self.hparams
        net, classifier = self._task()
        task = torch.optim.AdamW(
            [*net.parameters(), *classifier.parameters()], lr=h.lr, weight_decay=h.weight_decay
        )
        return [task, *(torch.optim.Adam(a.parameters(), lr=h.augmenter_lr) for a in self.augmenters)]

    def training_step(self, batch: Any, batch_idx: int) -> None:
        images, labels = batch
        h = self.hparams
        net, classifier = self._task()
        optimizers = self.optimizers()
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        active = self.active_augmenters(self.current_epoch)

        if active:
            source = int(torch.randint(active, (1,)))  # any added model supplies open-set samples
            with torch.no_grad():
                augmented = self.augmenters[source](images)
            # one pass over known and augmented images together: BatchNorm normalises them as
            # one batch, which its running statistics (used at test) then describe
            embeddings, augmented_embeddings = net(torch.cat([images, augmented])).split(len(images))
        else:
            embeddings = net(images)
        known_ce = F.cross_entropy(classifier(embeddings), labels)
        triplet = batch_hard_triplet_loss(embeddings, labels, h.margin)
        task_loss = known_ce + h.triplet_weight * triplet
        logs = {"train/known_ce": known_ce, "train/triplet": triplet}
        if active:
            open_space = open_space_loss(classifier(augmented_embeddings))
            task_loss = task_loss + h.open_space_weight * open_space
            logs["train/open_space"] = open_space
        task_optimizer = optimizers[0]
        task_optimizer.zero_grad()
        self.manual_backward(task_loss)
        self.clip_gradients(task_optimizer, gradient_clip_val=1.0, gradient_clip_algorithm="norm")
        task_optimizer.step()

        if active:  # the newest augmentation model: reconstruct, and differ from the earlier ones
            newest = active - 1
            augmented = self.augmenters[newest](images)
            reconstruction = reconstruction_loss(augmented, images)
            diversity = torch.zeros((), device=images.device)
            if newest and h.diversity_weight:
                with running_statistics_kept(net):  # the task model only scores these images
                    new = net(augmented)
                    with torch.no_grad():
                        earlier = [net(self.augmenters[j](images)) for j in range(newest)]
                diversity = diversity_loss(new, earlier)
            augmenter_optimizer = optimizers[1 + newest]
            augmenter_optimizer.zero_grad()
            self.manual_backward(reconstruction + h.diversity_weight * diversity)
            augmenter_optimizer.step()
            logs.update({"train/reconstruction": reconstruction, "train/diversity": diversity})
        logs["train/augmenters"] = float(active)
        self.log_dict(logs, prog_bar=True)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        images, labels = batch
        self.val_accuracy(self.logits(self.task_net(images)), labels)
        self.log("val/accuracy", self.val_accuracy, prog_bar=True)

    def train_weights(self, train: Any, val: Any, seed: int, directory: Path) -> dict[str, Any]:
        """Train on known-train (+ augmentation models) for every epoch: the final one is kept."""
        hardware = hardware_args("pose", self.hparams.hardware)
        if hardware.get("strategy") in SPAWNING_STRATEGIES:  # one augmenter trains at a time
            hardware["strategy"] += "_find_unused_parameters_true"
        loader = shuffled_loader(train, self.hparams.batch_size, seed, hardware, drop_last=True)
        trainer = quiet_trainer(max_epochs=self.hparams.epochs, num_sanity_val_steps=0, **hardware)
        trainer.fit(self, loader, DataLoader(labelled_tensors(val), batch_size=256))
        return {
            "epochs": self.hparams.epochs,
            "hardware": {"world_size": trainer.world_size, **hardware},
            "augmenters": self.active_augmenters(self.hparams.epochs - 1),
            "final_val_accuracy": float(trainer.callback_metrics.get("val/accuracy", float("nan"))),
        }

    # -- attribution -----------------------------------------------------------------------------
    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The task model's (un-normalised) embedding; logits and scores are functions of it."""
        net, _ = self._task()
        return net.eval()(images)

    def fit_head(self, train: Features, val: Features, seed: int) -> dict[str, Any]:
        """Nothing to fit but the whitening, where chosen: the classifier was trained with the task model."""
        self.fit_whitening(train)
        return {"val_accuracy": float((self.logits(val.values).argmax(1) == val.labels).float().mean())}

    @torch.no_grad()
    def full_logits(self, features: torch.Tensor) -> torch.Tensor:
        """K known classes and the open-space class."""
        return self._task()[1](features.float())

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.full_logits(features)[:, : self.num_known]

    def open_set_score(self, features: torch.Tensor) -> torch.Tensor:
        """Maximum softmax probability over the known classes of the (K+1)-way softmax."""
        return self.full_logits(features).softmax(dim=1)[:, : self.num_known].max(dim=1).values

    def own_embedding(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(features.float(), dim=1)


# The ablations: what each changes is declared once, in its method YAML (``base_config:
# pose.yaml`` and the changed argument), which every run and cell config reads. Each keeps a
# registered class of its own because the class name is part of the method key.


@register_method("pose_no_diversity")
class POSENoDiversityMethod(POSEMethod):
    """Ablation: POSE without the diversity constraint between augmentation models."""


@register_method("pose_no_augmentation")
class POSENoAugmentationMethod(POSEMethod):
    """Ablation: POSE's task model alone (no augmentation models, no open-space class samples)."""
