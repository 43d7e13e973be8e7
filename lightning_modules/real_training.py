"""Train a :class:`FingerprintNet` on labelled real images (the known generators' training split).

Used by controls and supervised baselines: P x K batches (P distinct generators, K images
each, so the triplet term has positives), one validation pass per epoch on the known
generators' *validation* images, and the epoch with the best validation accuracy kept -
model selection never sees test images or unseen generators. The result is a run directory
that :func:`lightning_modules.synthetic_fingerprint.training.load_extractor` reads; a finished directory is
reused, so a benchmark re-run does not retrain.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, Dataset, Sampler, TensorDataset

from core.hashing import config_hash
from core.images import as_float_images
from core.paths import cache_dir
from core.quiet_trainer import quiet_trainer
from core.seeding import seed_all
from lightning_modules.synthetic_fingerprint.training import (
    WEIGHTS_FILE,
    ExtractorTrainingConfig,
    save_weights,
)

#: the weights file of :func:`train_or_load`'s run directories
CACHED_WEIGHTS = "weights.safetensors"
#: trained weights that ship with the suite, one run directory per (method kind, training key):
#: the directories a default-benchmark run wrote into its cache, copied by ``scripts/ship_weights.py``
SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "shipped_weights"


#: Lightning's strategies that start their processes from inside the calling one: a method
#: trains in the middle of a benchmark run, which the ``ddp`` launcher would start over
SPAWNING_STRATEGIES = ("ddp_spawn", "ddp_fork", "ddp_notebook")


def hardware_args(method: str, hardware: dict[str, Any] | None) -> dict[str, Any]:
    """A trained method's ``hardware`` argument checked, as ``L.Trainer`` keyword arguments.

    Where a method trains (``accelerator``, ``devices``, ``strategy``, ``num_nodes``): more than
    one device or node needs a spawning DDP strategy, since the method trains inside the
    benchmark's own process. Each process keeps the method's ``batch_size`` (Lightning's
    convention), so a step sees ``devices x num_nodes`` times as many images."""
    from core.errors import ModelprintError
    from lightning_modules.synthetic_fingerprint.training import HARDWARE_FIELDS

    hardware = dict(hardware or {})
    unknown = sorted(set(hardware) - set(HARDWARE_FIELDS))
    if unknown:
        raise ModelprintError(
            f"{method}: hardware has unknown key(s) {unknown}; valid: {list(HARDWARE_FIELDS)}"
        )
    several = hardware.get("devices", 1) != 1 or hardware.get("num_nodes", 1) != 1
    if several and str(hardware.get("strategy")).split("_find_unused")[0] not in SPAWNING_STRATEGIES:
        raise ModelprintError(
            f"{method}: training on several devices inside a benchmark run needs strategy "
            f"{' / '.join(SPAWNING_STRATEGIES)} (got {hardware.get('strategy', 'auto')!r}): "
            "the ddp launcher would start the whole run again in each process"
        )
    return hardware


def training_key(hparams: dict[str, Any], data_hash: str, seed: int, **extra: Any) -> str:
    """What a trained method's weights depend on: its hyper-parameters (not ``retrain``, which
    says whether to reuse them, nor ``hardware``, which says where they train; an option left
    unset, such as ``delivery: null``, keeps the key it had before the option existed), the
    known-train data hash and the seed."""
    kept = {
        k: v
        for k, v in hparams.items()
        if k not in ("retrain", "hardware") and not (k in UNSET_WHEN_NONE and v is None)
    }
    return config_hash({**extra, "hparams": kept, "data": data_hash, "seed": seed})


def weights_directory(kind: str, key: str, retrain: bool) -> tuple[Path, str]:
    """Where a trained method's run directory is, and what its rows say of the weights: the
    shipped one when it matches (same hyper-parameters, data and seed), else the local cache -
    emptied first with ``retrain``, so the method trains afresh."""
    shipped = SHIPPED_WEIGHTS / kind / key
    if not retrain and (shipped / "summary.json").is_file():
        return shipped, f"shipped weights {key}"
    local = cache_dir() / kind / key
    if retrain and local.exists():
        shutil.rmtree(local)
    return local, f"trained here {key}"


#: options whose ``None`` leaves a training key as it was before the option was added
UNSET_WHEN_NONE = ("delivery",)


class DeliveredImages(Dataset):
    """A split's (image in [-1, 1], label) pairs, each image passed through the delivery chain
    (:mod:`datamodules.synthetic.delivery`) afresh at each draw - the augmentation the
    flagship's synthetic models get, for a control trained on real images, so the comparison
    still isolates synthetic vs real training data. The chain of draw ``n`` of image ``i`` is
    seeded by ``(i, n)``: the same in every run of one process (``num_workers=0``)."""

    def __init__(self, split: Any, chain: Any) -> None:
        self.images, self.labels, self.chain = split.images, split.labels.long(), chain
        self.draws = [0] * len(self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        from core.seeding import derive_seed

        draw, self.draws[index] = self.draws[index], self.draws[index] + 1
        image = self.chain.deliver_one(self.images[index], derive_seed("delivery-real", index, draw) % 2**63)
        return as_float_images(image[None])[0], self.labels[index]


def process_rank() -> tuple[int, int]:
    """(rank, world size) of this process in a distributed run; (0, 1) outside one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class LabelBalancedBatchSampler(Sampler[list[int]]):
    """Batches of ``p`` distinct labels x ``k`` items each, drawn at random; an epoch has
    about as many items as the data set. Labels with fewer than ``k`` items are sampled
    with replacement. In a distributed run each process draws its own batches (its own
    random stream) and an epoch's batches are shared out, so the epoch stays as long."""

    def __init__(self, labels: torch.Tensor, p: int, k: int, seed: int = 0) -> None:
        self.members = [(labels == c).nonzero().flatten() for c in labels.unique()]
        self.p, self.k = min(p, len(self.members)), k
        self.batches = max(1, len(labels) // (self.p * self.k))
        self.seed, self.generator = seed, None

    def __len__(self) -> int:
        return max(1, self.batches // process_rank()[1])

    def __iter__(self) -> Iterator[list[int]]:
        if self.generator is None:  # made where it is used: after the processes are started
            rank, _ = process_rank()
            self.generator = torch.Generator().manual_seed(self.seed + 1_000_003 * rank)
        for _ in range(len(self)):
            chosen = torch.randperm(len(self.members), generator=self.generator)[: self.p]
            batch = []
            for c in chosen.tolist():
                pool = self.members[c]
                if len(pool) >= self.k:
                    picks = pool[torch.randperm(len(pool), generator=self.generator)[: self.k]]
                else:
                    picks = pool[torch.randint(len(pool), (self.k,), generator=self.generator)]
                batch.extend(picks.tolist())
            yield batch


def labelled_tensors(split: Any) -> TensorDataset:
    """A split's (image in [-1, 1], label) pairs."""
    return TensorDataset(as_float_images(split.images), split.labels.long())


def shuffled_loader(
    split: Any,
    batch_size: int,
    seed: int,
    hardware: dict[str, Any],
    drop_last: bool = False,
    delivery: dict[str, Any] | bool | None = None,
) -> DataLoader:
    """A split's labelled images in seeded shuffled batches (through the delivery chain where
    ``delivery`` asks, see :class:`DeliveredImages`). With several processes Lightning swaps
    the sampler for a ``DistributedSampler`` (seeded by the run's seed) and a
    ``torch.Generator`` cannot be sent to spawned processes, so none is attached there."""
    from datamodules.synthetic.delivery import DeliveryChain

    several = hardware.get("devices", 1) != 1 or hardware.get("num_nodes", 1) != 1
    chain = DeliveryChain.from_config(delivery)
    return DataLoader(
        labelled_tensors(split) if chain is None else DeliveredImages(split, chain),
        batch_size=batch_size,
        shuffle=True,
        drop_last=drop_last,
        generator=None if several else torch.Generator().manual_seed(seed),
    )


def fit_keeping_best(
    module: L.LightningModule,
    train_loader: DataLoader,
    val_loader: DataLoader,
    epochs: int,
    workdir: Path,
    monitor: str = "val/accuracy",
    hardware: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``Trainer.fit`` for ``epochs`` on ``hardware`` (see :func:`hardware_args`), then load the
    epoch with the best ``monitor`` (higher is better) back into ``module``; the Lightning
    checkpoints in ``workdir`` are removed after."""
    best = ModelCheckpoint(dirpath=workdir, monitor=monitor, mode="max", save_top_k=1)
    trainer = quiet_trainer(
        max_epochs=epochs,
        callbacks=[best],
        enable_checkpointing=True,
        num_sanity_val_steps=0,
        # a batch sampler of our own shares itself out between processes
        use_distributed_sampler=train_loader.batch_sampler is None
        or type(train_loader.batch_sampler).__module__.startswith("torch."),
        **(hardware or {}),
    )
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader)
    wall = time.perf_counter() - start
    # our own checkpoint, written moments ago by this process (or the processes it started): trusted
    checkpoint = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
    module.load_state_dict(checkpoint["state_dict"])
    # a spawning strategy hands back the best checkpoint's path but not its score: read it there
    score = next(v["best_model_score"] for k, v in checkpoint["callbacks"].items() if "ModelCheckpoint" in k)
    shutil.rmtree(workdir, ignore_errors=True)
    return {
        "epochs": epochs,
        f"best_{monitor.replace('/', '_')}": float(score),
        "best_epoch_checkpoint": Path(best.best_model_path).name,
        "wall_time_s": wall,
        "hardware": {"world_size": trainer.world_size, **(hardware or {})},
    }


def train_or_load(
    module: torch.nn.Module, directory: Path, train: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Weights cached per run directory: load ``module``'s weights and summary from ``directory`` when
    a finished run is there, else call ``train()`` and save both (safetensors + summary.json).
    Metric states (torchmetrics) are not weights and are not saved."""
    from safetensors.torch import load_file, save_file

    weights, summary_file = directory / CACHED_WEIGHTS, directory / "summary.json"
    if weights.exists() and summary_file.exists():
        module.load_state_dict(load_file(str(weights)), strict=False)
        return json.loads(summary_file.read_text())
    summary = train()
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in module.state_dict().items() if "accuracy" not in k}
    save_file(state, str(weights))
    summary_file.write_text(json.dumps(summary, indent=2))
    return summary


def train_on_labelled_images(
    *,
    net_args: dict[str, Any],
    train: Any,
    val: Any,
    out: Path,
    seed: int,
    epochs: int,
    models_per_batch: int,
    images_per_model: int,
    triplet_weight: float,
    lr: float,
    hardware: dict[str, Any] | None = None,
    delivery: dict[str, Any] | bool | None = None,
) -> dict[str, Any]:
    """Train into ``out`` (config.yaml + extractor.safetensors + summary.json); returns the summary.
    ``delivery`` passes the training images (never the validation ones) through the delivery
    chain, as the flagship's synthetic images are."""
    from datamodules.synthetic.delivery import DeliveryChain
    from lightning_modules.synthetic_fingerprint.lightning_module import FingerprintTraining

    if (out / "summary.json").exists() and (out / WEIGHTS_FILE).exists():
        return json.loads((out / "summary.json").read_text())
    if len(train) == 0 or len(val) == 0:
        raise ValueError("training on real images needs non-empty train and validation splits")
    out.mkdir(parents=True, exist_ok=True)
    seed_all(seed)
    module = FingerprintTraining(
        num_classes=len(train.generator_ids), net=net_args, triplet_weight=triplet_weight, lr=lr
    )
    sampler = LabelBalancedBatchSampler(train.labels, models_per_batch, images_per_model, seed)
    chain = DeliveryChain.from_config(delivery)
    images = labelled_tensors(train) if chain is None else DeliveredImages(train, chain)
    summary = fit_keeping_best(
        module,
        DataLoader(images, batch_sampler=sampler),
        DataLoader(labelled_tensors(val), batch_size=256),
        epochs=epochs,
        workdir=out / "lightning",
        hardware=hardware,
    )
    save_weights(module.net, out / WEIGHTS_FILE)
    (out / "config.yaml").write_text(
        yaml.safe_dump(asdict(ExtractorTrainingConfig(net=net_args, seed=seed, lr=lr)), sort_keys=False)
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
