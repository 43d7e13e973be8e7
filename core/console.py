"""A console a researcher can read: third-party chatter silenced for the suite's own calls.

A run builds several Lightning Trainers, reads data with ``datasets`` and computes metrics with
torchmetrics; each library speaks for itself - Lightning's "GPU available / TPU available"
banner and litlogger tip per Trainer, a ``_pytree`` deprecation, ``datasets``' "Generating train
split" bar, torchmetrics' sparse-tensor notice - none of which a user of the suite can act on,
and which buried the lines that matter (hundreds of lines for a dozen cells). :func:`quiet`
silences exactly these, by logger name and by warning module and message, for the duration of
a command, and puts everything back afterwards, so a process that imports the suite as a
library keeps its own settings. ``modelprint run --verbose`` (:func:`set_verbose`) shows them
all again. The suite's own warnings - about the user's data or results - are never filtered.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: loggers whose INFO lines are banners and tips (Lightning's per-Trainer hardware banner and
#: litlogger tip go through its rank-zero loggers); their warnings and errors still show
CHATTY_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning_fabric",
    "pytorch_lightning",
    "lightning.pytorch.accelerators.cuda",
)

#: (category, module regex, message regex) of third-party warnings about the libraries'
#: own internals: deprecations inside Lightning, torch's notices triggered inside torchmetrics
THIRD_PARTY_WARNINGS: tuple[tuple[type[Warning], str, str], ...] = (
    (FutureWarning, r"lightning\.pytorch\.utilities\._pytree", r".*LeafSpec"),
    (UserWarning, r"torchmetrics\..*", r"Sparse invariant checks are implicitly disabled"),
    (UserWarning, r"lightning\.pytorch\..*", r"The '\w+_dataloader' does not have many workers"),
    (UserWarning, r"lightning\.pytorch\..*", r".*LeafSpec"),
    (DeprecationWarning, r"lightning\..*", r""),
    (DeprecationWarning, r"torchmetrics\..*", r""),
)

_verbose = False


def set_verbose(verbose: bool) -> None:
    """``--verbose``: every library speaks again (for a bug report, or to see the hardware used)."""
    global _verbose
    _verbose = verbose


def is_verbose() -> bool:
    return _verbose


@contextmanager
def quiet_loggers(names: tuple[str, ...] = CHATTY_LOGGERS) -> Iterator[None]:
    """The named loggers at WARNING while inside (their levels restored after); nothing when verbose.

    Used around each Trainer the suite builds, whose construction prints the banner and tip."""
    if _verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def quiet(verbose: bool | None = None) -> Iterator[None]:
    """Third-party banners, tips, progress bars and internal warnings silenced inside; ``verbose``
    (default: :func:`is_verbose`) leaves everything as the libraries print it."""
    previous = _verbose
    if verbose is not None:
        set_verbose(verbose)
    try:
        if _verbose:
            yield
            return
        with warnings.catch_warnings(), quiet_loggers(), datasets_quiet():
            for category, module, message in THIRD_PARTY_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=category, module=module)
            yield
    finally:
        set_verbose(previous)


@contextmanager
def datasets_quiet() -> Iterator[None]:
    """``datasets``' progress bars ("Generating train split") and INFO lines off while inside,
    as they were afterwards; nothing when ``datasets`` is not installed."""
    try:
        import datasets.utils as ds_utils
    except ImportError:
        yield
        return
    bars_were_off, verbosity = ds_utils.are_progress_bars_disabled(), ds_utils.logging.get_verbosity()
    if not bars_were_off:
        ds_utils.disable_progress_bars()
    ds_utils.logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        ds_utils.logging.set_verbosity(verbosity)
        if not bars_were_off:
            ds_utils.enable_progress_bars()
