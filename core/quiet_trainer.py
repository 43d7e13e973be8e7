"""One place for the Trainer the suite builds for short internal fits and predictions."""

from __future__ import annotations

from typing import Any

import lightning as L

from core.console import quiet_loggers


def quiet_trainer(**overrides: Any) -> L.Trainer:
    """A single-device Trainer with no logger, checkpoints, progress bar or model summary;
    ``overrides`` (max_steps, callbacks, ...) go straight to ``L.Trainer``.

    Built with Lightning's rank-zero loggers quieted: its hardware banner and litlogger tip,
    printed per Trainer, repeated a dozen times per run and told the user nothing
    (``--verbose`` shows them)."""
    defaults: dict[str, Any] = {
        "accelerator": "auto",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    with quiet_loggers():
        return L.Trainer(**{**defaults, **overrides})
