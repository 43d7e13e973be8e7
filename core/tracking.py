"""W&B tracking through Lightning's ``WandbLogger``, only when the user asks for it.

Asked for by ``modelprint run --wandb=true`` (:func:`ask_for_wandb`), by ``WANDB_PROJECT`` or a
``WANDB_MODE`` of ``online``/``offline`` in the environment, or by a sweep agent
(``WANDB_SWEEP_ID``, set by ``wandb agent``); otherwise a run logs nothing to W&B - logging by
default wrote an offline run and a screenful of W&B's own lines per cell into a ``wandb/``
folder of whatever directory the user stood in. Once asked: online when an API key is
configured (``wandb login`` or ``WANDB_API_KEY``) and ``WANDB_MODE`` is not ``offline``; else
offline, for ``wandb sync`` to upload later. The files go under the suite's cache
(``$MODELPRINT_CACHE/wandb``, or W&B's own ``WANDB_DIR`` where set), never into the current
directory.

``MODELPRINT_WANDB`` overrides all of this: ``auto`` (default: as above), ``offline``,
``online`` or ``off``. W&B is never required: without the package, or when it fails, a run goes
on and its figures reach the results store all the same (the store, not W&B, is the record).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

MODES = ("auto", "offline", "online", "off")

_asked = False


def ask_for_wandb(asked: bool = True) -> None:
    """``--wandb``: this process logs to W&B (online or offline, as :func:`wandb_mode` says)."""
    global _asked
    _asked = asked


def asked_by_flag() -> bool:
    """Whether ``--wandb`` (not the environment) asked: what a command restores when it ends."""
    return _asked


def wandb_asked() -> bool:
    """Whether the user asked for W&B: the flag, a project or mode in the environment, an agent."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    return (
        _asked
        or bool(os.environ.get("WANDB_PROJECT"))
        or bool(os.environ.get("WANDB_SWEEP_ID"))
        or mode in ("online", "offline", "run", "dryrun")
    )


def api_key_configured() -> bool:
    """An API key in the environment or in the netrc ``wandb login`` writes; read without
    starting W&B (whose own check is deprecated and prints a warning)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    import netrc
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_mode() -> str:
    """``off``, ``offline`` or ``online``: what a run does with W&B now."""
    mode = os.environ.get("MODELPRINT_WANDB", "auto").lower()
    if mode not in MODES:
        raise ValueError(f"MODELPRINT_WANDB={mode!r}; valid: {', '.join(MODES)}")
    if mode != "auto":
        return mode
    if not wandb_asked() or os.environ.get("WANDB_MODE", "").lower() == "disabled":
        return "off"
    if os.environ.get("WANDB_MODE", "").lower() in ("offline", "dryrun"):
        return "offline"
    return "online" if api_key_configured() else "offline"


def wandb_dir() -> Path:
    """Where W&B's files go: ``WANDB_DIR`` where the user set it, else the suite's cache."""
    if os.environ.get("WANDB_DIR"):
        return Path(os.environ["WANDB_DIR"]).expanduser()
    from core.paths import cache_dir

    return cache_dir()


def wandb_logger(name: str, config: dict[str, Any], group: str, save_dir: Path | None = None) -> Any:
    """A ``WandbLogger`` for one run, or None when tracking is off or W&B is unavailable.

    Quiet unless ``--verbose``: W&B's banner, history sparklines and sync hint, printed per run,
    were most of a run's console; where the offline runs lie is in the docs and ``wandb_dir``."""
    mode = wandb_mode()
    if mode == "off":
        return None
    from core.console import is_verbose

    directory = save_dir or wandb_dir()
    project = os.environ.get("MODELPRINT_WANDB_PROJECT") or os.environ.get("WANDB_PROJECT") or "modelprint"
    try:
        import wandb
        from lightning.pytorch.loggers import WandbLogger

        directory.mkdir(parents=True, exist_ok=True)
        if not is_verbose():  # W&B's own notices (one on a setting Lightning passes) before init
            wandb.termsetup(wandb.Settings(silent=True), None)
        return WandbLogger(
            project=project,
            name=name,
            group=group,
            save_dir=str(directory),
            # not Lightning's offline flag: it sets WANDB_MODE=dryrun in the process's environment
            # (which would then read as asked for W&B), and wandb 0.31 no longer reads dryrun as
            # offline (it asks for a login); wandb.init's own mode is unambiguous
            mode="offline" if mode == "offline" else "online",
            config=config,
            settings=wandb.Settings(silent=not is_verbose()),
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
