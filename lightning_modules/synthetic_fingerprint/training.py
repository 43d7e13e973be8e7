"""Train the fingerprint extractor on synthetic models only, save it, load it back.

A training run lives in one directory::

    config.yaml            the full training configuration (what ``--retrain`` re-runs)
    extractor.safetensors  the network's weights (no classifier: it only served training)
    summary.json           images seen, steps, wall time, final losses and accuracies
    log/version_N/         Lightning's CSVLogger metrics (loss, accuracy per step), one folder
                           per attempt: a resumed run must not delete the earlier attempt's rows
    lightning/last.ckpt    Lightning's resumable checkpoint (deleted when the run finishes)

Training is resumable: a killed run continues from ``lightning/last.ckpt`` (Lightning's
own ``ckpt_path``). Weights are stored as safetensors, so loading them never unpickles.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from core.hashing import config_hash, sha256_file
from core.run_directory import load_run
from core.seeding import seed_all
from core.tracking import wandb_logger
from core.yaml_config import read_dataclass_yaml
from lightning_modules.synthetic_fingerprint.parking import IN_PROGRESS, adopt

WEIGHTS_FILE = "extractor.safetensors"
#: trained extractors a training may start from (``init_weights``), by directory name
PRETRAINED = Path(__file__).resolve().parent / "pretrained"
#: where a run executes, not what it trains: left out of its key
HARDWARE_FIELDS = ("accelerator", "devices", "strategy", "num_nodes")
#: the zero-shot validation figure a run with held-out validation models is selected on
SELECTION_METRIC = "val/zs_identification"


class KeepBestWeights(Callback):
    """Saves the network's weights whenever ``monitor`` improves (higher is better), with the
    score and step beside them, so a resumed run still knows its best; the run then ships the
    best weights, chosen on held-out synthetic models - never on a real generator."""

    def __init__(self, directory: Path, monitor: str = SELECTION_METRIC) -> None:
        self.directory, self.monitor = directory, monitor
        record = directory / "best.json"
        self.best = json.loads(record.read_text()) if record.is_file() else None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        score = trainer.callback_metrics.get(self.monitor)
        if score is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        if self.best is None or float(score) > self.best["score"]:
            self.directory.mkdir(parents=True, exist_ok=True)
            save_weights(pl_module.net, self.directory / "best.safetensors")
            self.best = {"score": float(score), "step": trainer.global_step, "metric": self.monitor}
            (self.directory / "best.json").write_text(json.dumps(self.best))

    def restore(self, net: Any) -> dict[str, Any] | None:
        """Load the best weights into ``net``; returns their record (None: no validation ran)."""
        from safetensors.torch import load_file

        if self.best is None:
            return None
        net.load_state_dict(load_file(str(self.directory / "best.safetensors")))
        return self.best


class RankRecord(Callback):
    """What one process of a distributed run trained on, written to ``ranks/rank<r>.json``:
    the synthetic models it saw, how many images, and a digest of its network's weights at
    the end - the evidence that ranks shared the models out and ended in step."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.models, self.images = directory, set(), 0

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, _: int
    ) -> None:
        self.models.update(batch[2].tolist())
        self.images += len(batch[2])

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        record = {
            "rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "models": sorted(self.models),
            "images": self.images,
            # DDP keeps parameters equal; BatchNorm's running statistics are each rank's own
            # until rank 0's are broadcast at the next forward, so they are digested apart
            "final_parameters_sha256": tensors_digest(dict(pl_module.net.named_parameters())),
            "final_weights_sha256": tensors_digest(pl_module.net.state_dict()),
        }
        (self.directory / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


@dataclass
class ExtractorTrainingConfig:
    """What to train on (``data``: SyntheticModelDataModule arguments), with what network
    (``net``: FingerprintNet arguments) and objective, for how many images."""

    data: dict[str, Any] = field(default_factory=dict)
    net: dict[str, Any] = field(default_factory=dict)
    triplet_weight: float = 1.0
    margin: float = 0.3
    lr: float = 2e-3
    weight_decay: float = 5e-4
    warmup_fraction: float = 0.03
    image_budget: int = 80_000
    val_every_steps: int = 250
    val_batches: int = 40
    checkpoint_every_steps: int = 100
    seed: int = 0
    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    #: start the network from a trained extractor (a run directory, absolute or under
    #: :data:`PRETRAINED`) instead of random weights - e.g. a delivery-robust fine-tuning of
    #: a network trained on pristine synthetic images; the classifier head starts afresh
    init_weights: str | None = None

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> ExtractorTrainingConfig:
        return cls(**{**read_dataclass_yaml(cls, path), **overrides})

    def key(self) -> str:
        """Identifies the run (everything but where and on what hardware it ran), with the
        revision of the real photo sets its synthetic models take as input: a cached extractor
        trained on other inputs (the ``faces`` set lost its non-faces: revision 2) is not it."""
        described = {k: v for k, v in asdict(self).items() if k not in HARDWARE_FIELDS}
        init = described.pop("init_weights")
        if init is not None:  # what the start was, not where it lies (unset: keys as before)
            described["init_weights_sha256"] = sha256_file(self.init_directory() / WEIGHTS_FILE)
        return config_hash({**described, "inputs": _input_digest(self.data)})

    def init_directory(self) -> Path:
        """The run directory ``init_weights`` names (a missing one is a clear error)."""
        path = Path(str(self.init_weights))
        directory = path if path.is_absolute() else PRETRAINED / path
        if not (directory / WEIGHTS_FILE).is_file():
            raise FileNotFoundError(f"init_weights: no trained extractor at {directory}")
        return directory


def _input_digest(data: dict[str, Any]) -> dict[str, int]:
    """The revision of each real-photo set SyntheticModelDataModule(**data) takes as input."""
    import inspect

    from datamodules.synthetic.datamodule import SyntheticModelDataModule
    from datamodules.zoo.training_sets import TRAINING_SET_REVISIONS

    sources = data.get(
        "input_sources", inspect.signature(SyntheticModelDataModule).parameters["input_sources"].default
    )
    return {name: TRAINING_SET_REVISIONS[name] for name in sources}


def _datamodule(cfg: ExtractorTrainingConfig) -> Any:
    from datamodules.synthetic.datamodule import SyntheticModelDataModule

    return SyntheticModelDataModule(**{**cfg.data, "seed": cfg.seed})


def train_extractor(
    cfg: ExtractorTrainingConfig,
    out: Path,
    quiet: bool = False,
    extra_callbacks: Sequence[Callback] = (),
    parked: Path = IN_PROGRESS,
) -> dict[str, Any]:
    """Train (or resume) into ``out``; returns the summary. A finished run is not retrained; an
    unfinished one resumes from its own checkpoint or, if further on, from the state parked
    under ``parked`` (see :mod:`~lightning_modules.synthetic_fingerprint.parking`)."""
    from lightning_modules.synthetic_fingerprint.lightning_module import FingerprintTraining

    out.mkdir(parents=True, exist_ok=True)
    if (out / "summary.json").exists() and (out / WEIGHTS_FILE).exists():
        return json.loads((out / "summary.json").read_text())
    key = cfg.key()  # hashes the start's weights file: once
    adopt(out, key, parked)
    (out / "config.yaml").write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))
    seed_all(cfg.seed)
    dm = _datamodule(cfg)
    dm.setup("fit")
    batch_images = dm.hparams.images_per_group * min(dm.hparams.models_per_batch, len(dm.train_model_ids))
    steps = max(1, cfg.image_budget // batch_images)
    module = FingerprintTraining(
        num_classes=dm.num_classes,
        net=cfg.net,
        triplet_weight=cfg.triplet_weight,
        margin=cfg.margin,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_fraction=cfg.warmup_fraction,
        zero_shot_val=dm.hparams.val_split == "model",
    )
    if cfg.init_weights is not None:
        from safetensors.torch import load_file

        from lightning_modules.synthetic_fingerprint.network import FingerprintNet, load_grown

        # the start's own input, where its run directory says it (weights alone: taken as ours)
        start = cfg.init_directory() / "config.yaml"
        trained_input = (
            ExtractorTrainingConfig.from_yaml(start).net.get("input_transform", FingerprintNet.DEFAULT_INPUT)
            if start.is_file()
            else module.net.input_transform
        )
        load_grown(module.net, load_file(str(cfg.init_directory() / WEIGHTS_FILE)), trained_input)
    has_val = dm.val_set is not None
    keep_best = KeepBestWeights(out / "lightning") if has_val and dm.hparams.val_split == "model" else None
    resumable = ModelCheckpoint(
        dirpath=out / "lightning",
        save_last=True,
        save_top_k=0,
        every_n_train_steps=cfg.checkpoint_every_steps,
    )
    tracked = wandb_logger(f"extractor-{key}", asdict(cfg), group="extractor-training", save_dir=out)
    trainer = L.Trainer(
        max_steps=steps,
        max_epochs=-1,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        num_nodes=cfg.num_nodes,
        use_distributed_sampler=False,  # the DataModule's batch samplers shard by rank themselves
        precision=cfg.precision,
        logger=[CSVLogger(out, name="log"), *([tracked] if tracked else [])],
        callbacks=[
            resumable,
            *([keep_best] if keep_best else []),
            RankRecord(out / "ranks"),
            *extra_callbacks,
        ],
        check_val_every_n_epoch=None,
        val_check_interval=min(cfg.val_every_steps, steps) if has_val else None,
        limit_val_batches=cfg.val_batches if has_val else 0,
        num_sanity_val_steps=0,
        log_every_n_steps=10,
        enable_progress_bar=not quiet,
        enable_model_summary=not quiet,
        deterministic=False,
    )
    last = out / "lightning" / "last.ckpt"
    start = time.perf_counter()
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=last if last.exists() else None)
    finally:
        if tracked is not None:  # one W&B run per training, closed even when training stops
            tracked.experiment.finish()
    wall = time.perf_counter() - start
    if trainer.global_step < steps:  # interrupted (e.g. KeyboardInterrupt): keep last.ckpt, no summary
        raise RuntimeError(f"training stopped at step {trainer.global_step} of {steps}; run again to resume")
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    selected = keep_best.restore(module.net) if keep_best is not None else None
    if not trainer.is_global_zero:
        return {}
    save_weights(module.net, out / WEIGHTS_FILE)
    summary = {
        "key": key,
        "steps": steps,
        "batch_images": batch_images,
        "images_seen": steps * batch_images,
        "num_models": len(dm.train_model_ids),
        "wall_time_s": wall,
        "images_per_s": steps * batch_images / wall,
        "metrics": metrics,
        "selected": selected or {"step": steps, "metric": "last step"},
        "weights_sha256": sha256_file(out / WEIGHTS_FILE),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    shutil.rmtree(out / "lightning", ignore_errors=True)
    return summary


def tensors_digest(tensors: dict[str, Any]) -> str:
    """sha256 over named tensors in name order: equal exactly when every value is equal."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(tensors.items()):
        digest.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_weights(net: Any, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(path))


def load_extractor(directory: str | Path) -> Any:
    """The trained :class:`FingerprintNet` of a run directory (config + safetensors)."""
    from lightning_modules.synthetic_fingerprint.network import FingerprintNet

    def build(config: Path) -> Any:
        return FingerprintNet(**ExtractorTrainingConfig.from_yaml(config).net)

    hint = "train one with `modelprint extractor train`, or run with --retrain"
    return load_run(directory, WEIGHTS_FILE, build, "extractor", hint)
