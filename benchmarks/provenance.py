"""Build results-store records with the full provenance of the code and machine that made them."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.environment import device_description, git_revision, package_versions
from core.hashing import config_hash
from leaderboards import Figure, RunRecord, open_store
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


def record_training(cfg: ExtractorTrainingConfig, summary: dict[str, Any], store_path: str | Path) -> str:
    """Record a finished extractor training (protocol ``training``) with its provenance; with
    held-out validation models, the zero-shot validation figures of the weights it kept."""
    metrics = summary["metrics"]
    figures = [
        Figure("images_seen", float(summary["images_seen"])),
        Figure("images_per_s", float(summary["images_per_s"])),
        Figure("train_loss", metrics["train/loss"]),
    ]
    for key, metric in (
        ("val/accuracy", "val_accuracy"),
        ("val/zs_identification", "val_zs_identification"),
        ("val/zs_verification_auroc", "val_zs_verification_auroc"),
    ):
        if key in metrics:
            figures.append(Figure(metric, metrics[key]))
    space = cfg.data.get("space", "paper")
    data_hash = config_hash({"synthetic_data": cfg.data, "seed": cfg.seed})
    run = ("synthetic_fingerprint", f"synthetic:{space}", f"{summary['num_models']}_models")
    return _record_training_run(*run, cfg, data_hash, summary, figures, store_path)


def record_denoiser_training(cfg: Any, summary: dict[str, Any], store_path: str | Path) -> str:
    """Record a finished denoiser training (protocol ``training``, data set its photo sources)."""
    metrics = summary["metrics"]
    figures = [
        Figure("psnr_noisy", metrics["val/psnr_noisy"]),
        Figure("psnr_denoised", metrics["val/psnr_denoised"]),
    ]
    data_hash = config_hash({"denoiser_data": cfg.sources, "resolution": cfg.resolution})
    run = ("dncnn_denoiser", "photos:" + "+".join(cfg.sources), f"sigma_{cfg.val_sigma:g}")
    return _record_training_run(*run, cfg, data_hash, summary, figures, store_path)


def _record_training_run(
    method: str,
    dataset: str,
    split: str,
    cfg: Any,
    data_hash: str,
    summary: dict[str, Any],
    figures: list[Figure],
    store_path: Path,
) -> str:
    """One training run (protocol ``training``): its config, summary and figures, in one row."""
    record = run_record(
        method=method,
        protocol="training",
        dataset=dataset,
        split=split,
        seed=cfg.seed,
        config=asdict(cfg),
        data_hash=data_hash,
        wall_time_s=summary["wall_time_s"],
        details={"summary": summary},
    )
    return open_store(store_path).write_run(record, figures)
