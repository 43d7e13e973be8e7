"""``modelprint check``: prove that the install can do the suite's real work, end to end.

Each check exercises one dependency the way the suite uses it - timm through the
torchvision fix, a Lightning ``Trainer`` fit, the results store, a ``datasets`` parquet round
trip, an offline W&B run - and reports its time, so a broken install fails here, in seconds,
rather than an hour into a benchmark.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.cli import command


def _check_timm(workdir: Path) -> str:
    from benchmarks.torchvision_compat import ensure_torchvision_ops

    state = ensure_torchvision_ops()
    import timm
    import torch

    model = timm.create_model("resnet18", pretrained=False, num_classes=3)
    logits = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 3), logits.shape
    return f"timm {timm.__version__} resnet18 forward ok (torchvision fix: {state})"


def _check_lightning(workdir: Path) -> str:
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from core.quiet_trainer import quiet_trainer
    from core.seeding import seed_all

    class TinyClassifier(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Linear(8, 2)

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
            x, y = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.5)

    seed_all(0)
    x = torch.randn(64, 8)
    y = (x[:, 0] > 0).long()
    model = TinyClassifier()
    trainer = quiet_trainer(max_epochs=5, default_root_dir=workdir)
    trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=16))
    accuracy = (model.net(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.8, f"a linearly separable toy problem reached only {accuracy:.2f}"
    return f"Lightning fit on {trainer.strategy.root_device}: train accuracy {accuracy:.2f}"


def _check_store(workdir: Path) -> str:
    from leaderboards.store import Figure, ResultsStore, RunRecord

    store = ResultsStore(workdir / "check.sqlite")
    run = RunRecord("check", "check", "check", "check", 0, {}, "none", "none", {}, "cpu", 0.0)
    store.write_run(run, [Figure("ok", 1.0)])
    store.write_run(run, [Figure("ok", 1.0)])  # same key: replaced, not duplicated
    assert len(store.figure_rows()) == 1
    return "SQLite WAL store: write, replace, read ok"


def _check_datasets(workdir: Path) -> str:
    import datasets
    import numpy as np

    images = [np.random.default_rng(i).integers(0, 255, (8, 8, 3), dtype=np.uint8) for i in range(4)]
    features = datasets.Features({"image": datasets.Image(), "generator": datasets.Value("string")})
    table = datasets.Dataset.from_dict({"image": images, "generator": list("abab")}, features=features)
    table.to_parquet(workdir / "check.parquet")
    loaded = datasets.load_dataset(
        "parquet", data_files=str(workdir / "check.parquet"), split="train", cache_dir=str(workdir / "hf")
    )
    assert loaded[3]["generator"] == "b" and loaded[0]["image"].size == (8, 8)
    return f"datasets {datasets.__version__}: parquet image round trip ok"


def _check_wandb(workdir: Path) -> str:
    from lightning.pytorch.loggers import WandbLogger

    logger = WandbLogger(project="modelprint-check", save_dir=str(workdir), offline=True)
    logger.log_metrics({"check": 1.0})
    logger.experiment.finish()
    return f"W&B offline run written under {Path(logger.save_dir or workdir).name}/wandb"


CHECKS: dict[str, Callable[[Path], str]] = {
    "timm": _check_timm,
    "lightning": _check_lightning,
    "results store": _check_store,
    "datasets": _check_datasets,
    "wandb": _check_wandb,
}


@command("check")
def check(wandb: bool = True) -> int:
    """Check the install end to end: timm, Lightning, results store, datasets, W&B offline.

    Args:
        wandb: also write an offline W&B run (starts W&B's service; a few seconds).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "offline")
    table = Table(title="modelprint install check")
    for column in ("check", "result", "seconds"):
        table.add_column(column)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="modelprint-check-") as tmp:
        for name, run_check in CHECKS.items():
            if name == "wandb" and not wandb:
                continue
            start = time.perf_counter()
            try:
                result = f"[green]ok[/green] {run_check(Path(tmp))}"
            except Exception as error:  # a check reports, it does not crash
                failed += 1
                result = f"[red]FAILED[/red] {type(error).__name__}: {error}"
            table.add_row(name, result, f"{time.perf_counter() - start:.1f}")
    Console().print(table)
    return 1 if failed else 0
