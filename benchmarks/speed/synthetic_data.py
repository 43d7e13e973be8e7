"""Is the synthetic-data pipeline ever what limits training? Prints the numbers that say.

1. raw forward rate: the same synthetic networks, already built, on pre-made inputs;
2. DataModule rate: images/s out of ``SyntheticModelDataModule``'s DataLoader (building
   models, drawing inputs, generating) - cold (first epoch) and warm (models cached);
3. a training step of a timm CNN classifier over the synthetic models, fed by the DataModule
   vs by a pre-generated tensor of the same images (goal: within 10%).

Usage: ``python -m benchmarks.speed.synthetic_data --num_models=128 --workers=2``
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
    """Wall time between consecutive batch ends (so data waiting is included), after warm-up."""

    def __init__(self, warmup: int = 3) -> None:
        self.warmup, self.times, self.last = warmup, [], None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self.last is not None and trainer.global_step > self.warmup:
            self.times.append(now - self.last)
        self.last = now

    @property
    def mean_ms(self) -> float:
        return 1000 * sum(self.times) / max(len(self.times), 1)


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


def timed_fit(module: L.LightningModule, loader: DataLoader, steps: int) -> float:
    timer = StepTimer()
    trainer = quiet_trainer(max_steps=steps, callbacks=[timer])
    trainer.fit(module, loader)
    return timer.mean_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_models", type=int, default=128)
    parser.add_argument("--images_per_model", type=int, default=32)
    parser.add_argument("--space", default="paper")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()

    dm = SyntheticModelDataModule(
        num_models=args.num_models,
        images_per_model=args.images_per_model,
        space=args.space,
        num_workers=args.workers,
        val_fraction=0.0001,
    )
    dm.setup()
    dataset = dm.train_set

    built = [dataset.model(m) for m in dataset.model_ids[:32]]
    inputs = [dataset.inputs(m, range(8)) for m in dataset.model_ids[:32]]
    start = time.perf_counter()
    with torch.no_grad():
        for model, x in zip(built, inputs, strict=True):
            model(x)
    raw = 32 * 8 / (time.perf_counter() - start)

    loader = dm.train_dataloader()
    rates = []
    for _ in range(2):  # cold, then warm
        start, count = time.perf_counter(), 0
        for images, _, _ in loader:
            count += len(images)
        rates.append(count / (time.perf_counter() - start))

    images, labels, _ = collate_groups([dataset[i] for i in range(len(dataset))])
    fixed = DataLoader(
        TensorDataset(images, labels),
        batch_size=dm.hparams.images_per_group * dm.hparams.models_per_batch,
        shuffle=True,
    )
    steps = min(args.steps, len(loader) * 3)
    synthetic_ms = timed_fit(Classifier(args.backbone, dm.num_classes), dm.train_dataloader(), steps)
    fixed_ms = timed_fit(Classifier(args.backbone, dm.num_classes), fixed, steps)

    print(
        f"synthetic models: {args.num_models} x {args.images_per_model} images, space {args.space}, "
        f"{args.workers} workers, torch threads {torch.get_num_threads()}"
    )
    print(f"raw forward rate (built models, pre-made inputs): {raw:8.0f} images/s")
    print(f"DataModule rate, first epoch (building models):   {rates[0]:8.0f} images/s")
    print(f"DataModule rate, warm (models cached):            {rates[1]:8.0f} images/s")
    print(f"{args.backbone} training step, synthetic DataModule: {synthetic_ms:7.1f} ms")
    print(f"{args.backbone} training step, pre-generated tensor: {fixed_ms:7.1f} ms")
    print(
        f"overhead of on-the-fly generation: {100 * (synthetic_ms / fixed_ms - 1):+.1f}% (goal: within 10%)"
    )


if __name__ == "__main__":
    main()
