"""``modelprint denoiser train``: the learned residual denoiser the fingerprint methods may use."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from benchmarks.cli import UsageError, command
from benchmarks.provenance import record_denoiser_training
from core.paths import cache_dir, config_file, results_store_location
from lightning_modules.denoiser.training import DenoiserConfig, train_denoiser

DEFAULT_CONFIG = config_file("denoiser", "cpu.yaml")


@command("denoiser train")
def denoiser_train(training_config: Path = DEFAULT_CONFIG, out: Path | None = None) -> int:
    """Train the DnCNN residual denoiser on the packaged photos (resumable by its directory).

    Args:
        training_config: the denoiser's training YAML.
        out: run directory (default: the cache, keyed by the configuration); copy a run to
            ``lightning_modules/denoiser/checkpoint/`` to ship it.
    """
    from core.hashing import config_hash

    if not training_config.is_file():
        raise UsageError(f"no denoiser config at {training_config}")
    cfg = DenoiserConfig.from_yaml(training_config)
    out = out or cache_dir() / "denoisers" / config_hash(cfg.__dict__)
    summary = train_denoiser(cfg, out)
    run_id = record_denoiser_training(cfg, summary, results_store_location())
    metrics = summary["metrics"]
    Console().print(
        f"denoiser trained in {summary['wall_time_s']:.0f} s: PSNR at sigma {cfg.val_sigma:g} "
        f"{metrics['val/psnr_noisy']:.2f} -> {metrics['val/psnr_denoised']:.2f} dB -> {out}; "
        f"recorded run {run_id}"
    )
    return 0
