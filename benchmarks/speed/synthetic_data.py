"""Is the synthetic-data pipeline ever what limits training? Prints the numbers that say.

1. raw forward rate: the same synthetic networks, already built, on pre-made inputs;
2. DataModule rate: images/s out of ``SyntheticModelDataModule``'s DataLoader (building
   models, drawing inputs, generating) - cold (first epoch) and warm (models cached);
3. a training step of a timm CNN classifier over the synthetic models, fed by a fresh
   DataModule vs by a pre-generated tensor of the same images, for ``--epochs`` epochs: the
   first epoch (every model built and its images made) and the later ones (fixed images come
   from the workers' caches) reported apart, the whole run, and a run as long as the shipped
   extractor's training (goal: within 15%); the pre-generated fit runs before and after the
   synthetic one, pooled, so drift in a shared machine's speed hits both sides.
   ``--backbone=flagship`` times the extractor's own training module (denoiser, spectrum,
   CE + triplet) instead of a timm classifier.

Usage: ``python -m benchmarks.speed.synthetic_data --num_models=128 --workers=0``
"""

from __future__ import annotations

import argparse
import time

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.torchvision_compat import ensure_torchvision_ops
from core.quiet_trainer import quiet_trainer
from datamodules.synthetic.datamodule import SyntheticModelDataModule, collate_groups


class StepTimer(L.Callback):
    """Wall time between consecutive batch ends (so data waiting is included), per epoch,
    after ``warmup`` steps (the first steps pay for thread pools and allocator growth)."""

    def __init__(self, warmup: int = 3) -> None:
        self.warmup, self.times, self.last = warmup, {}, None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self.last is not None and trainer.global_step > self.warmup:
            self.times.setdefault(trainer.current_epoch, []).append(now - self.last)
        self.last = now

    @classmethod
    def pooled(cls, *timers: StepTimer) -> StepTimer:
        """One timer holding every given timer's step times, epoch by epoch."""
        pooled = cls()
        for timer in timers:
            for epoch, times in timer.times.items():
                pooled.times.setdefault(epoch, []).extend(times)
        return pooled

    def mean_ms(self, epochs: slice = slice(None)) -> float:
        times = [t for epoch in sorted(self.times)[epochs] for t in self.times[epoch]]
        return 1000 * sum(times) / max(len(times), 1)


class Classifier(L.LightningModule):
    def __init__(self, backbone: str, num_classes: int) -> None:
        super().__init__()
        ensure_torchvision_ops()
        import timm

        self.net = timm.create_model(backbone, num_classes=num_classes, pretrained=False)

    def training_step(self, batch, _):
        images, labels = batch[0], batch[1]
        return F.cross_entropy(self.net(images), labels)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-4)


def flagship_training(num_classes: int) -> L.LightningModule:
    """The flagship's own training module, with the shipped recipe's network and objective."""
    from lightning_modules.synthetic_fingerprint.lightning_module import FingerprintTraining
    from lightning_modules.synthetic_fingerprint.methods import SHIPPED_TRAINING_CONFIG
    from lightning_modules.synthetic_fingerprint.training import ExtractorTrainingConfig

    cfg = ExtractorTrainingConfig.from_yaml(SHIPPED_TRAINING_CONFIG)
    return FingerprintTraining(num_classes=num_classes, net=cfg.net, triplet_weight=cfg.triplet_weight)


def shipped_recipe_epochs() -> float:
    """How many passes over its fixed images the shipped extractor's training makes."""
    from lightning_modules.synthetic_fingerprint.methods import SHIPPED_TRAINING_CONFIG
    from lightning_modules.synthetic_fingerprint.training import ExtractorTrainingConfig

    cfg = ExtractorTrainingConfig.from_yaml(SHIPPED_TRAINING_CONFIG)
    train_models = cfg.data["num_models"] - round(cfg.data["num_models"] * cfg.data["val_fraction"])
    return cfg.image_budget / (train_models * cfg.data["images_per_model"])


def timed_fit(module: L.LightningModule, loader: DataLoader, epochs: int) -> StepTimer:
    timer = StepTimer()
    trainer = quiet_trainer(max_epochs=epochs, callbacks=[timer])
    trainer.fit(module, loader)
    return timer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_models", type=int, default=128)
    parser.add_argument("--images_per_model", type=int, default=32)
    parser.add_argument("--space", default="paper")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument(
        "--backbone", default="resnet18", help="a timm classifier, or 'flagship': the extractor's training"
    )
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    def datamodule() -> SyntheticModelDataModule:
        dm = SyntheticModelDataModule(
            num_models=args.num_models,
            images_per_model=args.images_per_model,
            space=args.space,
            num_workers=args.workers,
            val_fraction=0.0001,
        )
        dm.setup()
        return dm

    dm = datamodule()
    dataset = dm.train_set
    built = [dataset.model(m) for m in dataset.model_ids[:32]]
    inputs = [dataset.inputs(m, range(8)) for m in dataset.model_ids[:32]]
    start = time.perf_counter()
    with torch.no_grad():
        for model, x in zip(built, inputs, strict=True):
            model(x)
    raw = 32 * 8 / (time.perf_counter() - start)

    loader = datamodule().train_dataloader()
    rates = []
    for _ in range(2):  # cold, then warm
        start, count = time.perf_counter(), 0
        for images, _, _ in loader:
            count += len(images)
        rates.append(count / (time.perf_counter() - start))
    del loader

    images, labels, _ = collate_groups([dataset[i] for i in range(len(dataset))])
    fixed = DataLoader(
        TensorDataset(images, labels),
        batch_size=dm.hparams.images_per_group * dm.hparams.models_per_batch,
        shuffle=True,
    )
    fresh = datamodule()  # nothing built or cached yet, as at the start of a training run

    def trained() -> L.LightningModule:
        if args.backbone == "flagship":
            return flagship_training(dm.num_classes)
        return Classifier(args.backbone, dm.num_classes)

    # the pre-generated fit runs before and after the synthetic one and the two are averaged, so
    # a drift in this shared machine's speed does not land on one side of the comparison
    before = timed_fit(trained(), fixed, args.epochs)
    synthetic = timed_fit(trained(), fresh.train_dataloader(), args.epochs)
    after = timed_fit(trained(), fixed, args.epochs)
    pregenerated = StepTimer.pooled(before, after)

    print(
        f"synthetic models: {args.num_models} x {args.images_per_model} images, space {args.space}, "
        f"{args.workers} workers, torch threads {torch.get_num_threads()}"
    )
    print(f"raw forward rate (built models, pre-made inputs): {raw:8.0f} images/s")
    print(f"DataModule rate, first epoch (building models):   {rates[0]:8.0f} images/s")
    print(f"DataModule rate, warm (models cached):            {rates[1]:8.0f} images/s")
    print(f"{args.backbone} training step (ms)        first epoch   later epochs   whole run")
    parts = (slice(0, 1), slice(1, None), slice(None))
    for name, timer in (("synthetic DataModule", synthetic), ("pre-generated tensor", pregenerated)):
        print(f"  {name:<22}" + "".join(f"{timer.mean_ms(part):14.1f}" for part in parts))
    overheads = [100 * (synthetic.mean_ms(p) / pregenerated.mean_ms(p) - 1) for p in parts]
    print("  overhead of generation" + "".join(f"{o:+13.1f}%" for o in overheads) + "   (goal: within 15%)")
    epochs = shipped_recipe_epochs()
    recipe = [
        (t.mean_ms(parts[0]) + (epochs - 1) * t.mean_ms(parts[1])) / epochs for t in (synthetic, pregenerated)
    ]
    print(
        f"  a run as long as the shipped extractor's ({epochs:.1f} epochs, from the measured epochs): "
        f"{100 * (recipe[0] / recipe[1] - 1):+.1f}%"
    )


if __name__ == "__main__":
    main()
