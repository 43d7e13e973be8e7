"""W&B tracking through Lightning's ``WandbLogger``: offline by default, online once logged in.

``MODELPRINT_WANDB`` chooses: ``auto`` (default: online when an API key is configured -
``wandb login`` or ``WANDB_API_KEY`` - and ``WANDB_MODE`` is not ``offline``; else offline,
runs written under ``./wandb`` for ``wandb sync`` to upload later), ``offline``, ``online``
or ``off``. W&B is never required: without the package, or when it fails, a run goes on and
its figures reach the results store all the same (the store, not W&B, is the record).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

MODES = ("auto", "offline", "online", "off")


def wandb_mode() -> str:
    mode = os.environ.get("MODELPRINT_WANDB", "auto").lower()
    if mode not in MODES:
        raise ValueError(f"MODELPRINT_WANDB={mode!r}; valid: {', '.join(MODES)}")
    if mode != "auto":
        return mode
    if os.environ.get("WANDB_MODE", "").lower() in ("offline", "dryrun", "disabled"):
        return "offline"
    try:
        import wandb

        return "online" if wandb.api.api_key else "offline"
    except Exception:  # no package, or no settings: offline is always possible
        return "offline"


def wandb_logger(name: str, config: dict[str, Any], group: str, save_dir: Path | None = None) -> Any:
    """A ``WandbLogger`` for one run, or None when tracking is off or W&B is unavailable."""
    mode = wandb_mode()
    if mode == "off":
        return None
    try:
        from lightning.pytorch.loggers import WandbLogger

        return WandbLogger(
            project=os.environ.get("MODELPRINT_WANDB_PROJECT", "modelprint"),
            name=name,
            group=group,
            save_dir=str(save_dir or Path.cwd()),
            offline=mode == "offline",
            # Lightning's offline flag sets WANDB_MODE=dryrun, which wandb 0.31 no longer reads
            # as offline (it asks for a login); wandb.init's own mode is unambiguous
            mode="offline" if mode == "offline" else "online",
            config=config,
        )
    except Exception as error:  # W&B must never stop a benchmark
        warnings.warn(f"W&B logging disabled for {name}: {error}", stacklevel=2)
        return None


def log_evaluation(
    logger: Any, figures: dict[str, float], run_ids: list[str], images: list[Path] | None = None
) -> None:
    """Figures (``protocol/split/metric``), the store's run ids and plots into the W&B run; then finish it."""
    if logger is None:
        return
    try:
        logger.log_metrics(figures)
        for image in images or []:
            logger.log_image(key=image.stem, images=[str(image)])
        logger.experiment.summary["results_store_run_ids"] = run_ids
        logger.experiment.finish()
    except Exception as error:
        warnings.warn(f"W&B logging failed (the results store has the figures): {error}", stacklevel=2)
