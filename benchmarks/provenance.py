"""Build results-store records with the full provenance of the code and machine that made them."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.environment import device_description, git_revision, package_versions
from core.hashing import config_hash
from leaderboards.store import Figure, ResultsStore, RunRecord
from lightning_modules.synthetic_fingerprint.training import ExtractorTrainingConfig


def run_record(
    *,
    method: str,
    protocol: str,
    dataset: str,
    split: str,
    seed: int,
    config: dict[str, Any],
    data_hash: str,
    wall_time_s: float,
    details: dict[str, Any] | None = None,
) -> RunRecord:
    """A :class:`RunRecord` stamped with git revision, package versions and device."""
    return RunRecord(
        method=method,
        protocol=protocol,
        dataset=dataset,
        split=split,
        seed=seed,
        config=config,
        data_hash=data_hash,
        git_sha=git_revision(),
        package_versions=package_versions(),
        device=device_description(),
        wall_time_s=wall_time_s,
        details=details or {},
    )


def record_training(cfg: ExtractorTrainingConfig, summary: dict[str, Any], store_path: Path) -> str:
    """Record a finished training run (protocol ``training``) with its provenance."""
    metrics = summary["metrics"]
    figures = [
        Figure("images_seen", float(summary["images_seen"])),
        Figure("images_per_s", float(summary["images_per_s"])),
        Figure("train_loss", metrics["train/loss"]),
    ]
    if "val/accuracy" in metrics:
        figures.append(Figure("val_accuracy", metrics["val/accuracy"]))
    space = cfg.data.get("space", "paper")
    record = run_record(
        method="synthetic_fingerprint",
        protocol="training",
        dataset=f"synthetic:{space}",
        split=f"{summary['num_models']}_models",
        seed=cfg.seed,
        config=asdict(cfg),
        data_hash=config_hash({"synthetic_data": cfg.data, "seed": cfg.seed}),
        wall_time_s=summary["wall_time_s"],
        details={"summary": summary},
    )
    return ResultsStore(store_path).write_run(record, figures)


def record_denoiser_training(cfg: Any, summary: dict[str, Any], store_path: Path) -> str:
    """Record a finished denoiser training (protocol ``training``, data set its photo sources)."""
    metrics = summary["metrics"]
    figures = [
        Figure("psnr_noisy", metrics["val/psnr_noisy"]),
        Figure("psnr_denoised", metrics["val/psnr_denoised"]),
    ]
    record = run_record(
        method="dncnn_denoiser",
        protocol="training",
        dataset="photos:" + "+".join(cfg.sources),
        split=f"sigma_{cfg.val_sigma:g}",
        seed=cfg.seed,
        config=asdict(cfg),
        data_hash=config_hash({"denoiser_data": cfg.sources, "resolution": cfg.resolution}),
        wall_time_s=summary["wall_time_s"],
        details={"summary": summary},
    )
    return ResultsStore(store_path).write_run(record, figures)
