"""The console of ``modelprint run``: third-party chatter silenced, the figures at the end."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.fabricated  # noqa: F401 - registers the 'fabricated' data set
from benchmarks.cli import main
from core.console import is_verbose, quiet, set_verbose
from core.quiet_trainer import quiet_trainer

NOISE = ("GPU available", "TPU available", "Tip", "wandb:", "Warning", "Generating train split")


@pytest.fixture
def warnings_printed() -> Iterator[None]:
    """Warnings printed to stderr as a user's terminal shows them (pytest otherwise records
    them, and a test of the console would see none whether silenced or not)."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.simplefilter("default")
        warnings.showwarning = warnings._showwarning_orig  # type: ignore[attr-defined]
        yield


def run_lines(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, *flags: str) -> list[str]:
    """The run's console: what reached the file descriptors (prints, warnings, progress bars)
    and what was logged (a library's logging handler may hold a stream pytest swapped out)."""
    caplog.clear()
    code = main(
        [
            "run",
            "--dataset=fabricated",
            "--methods=[spectral]",
            "--protocols=[closed_set,open_set]",
            "--bootstrap_samples=0",
            *flags,
        ]
    )
    assert code == 0
    out, err = capfd.readouterr()
    logged = [f"logged: {message}" for message in caplog.messages]
    return logged + [line for line in (err + out).splitlines() if line.strip()]


def test_a_run_prints_no_third_party_chatter_and_ends_with_its_figures(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    warnings_printed: None,
) -> None:
    """The default a new user gets: no W&B unless asked, no Lightning banner, no library's
    deprecation - a few lines, then the headline figures of the cells just computed."""
    monkeypatch.delenv("MODELPRINT_WANDB", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO)
    lines = run_lines(capfd, caplog)
    noisy = [line for line in lines if any(word in line for word in NOISE)]
    assert not noisy, noisy
    assert len(lines) <= 16, lines
    assert not (tmp_path / "wandb").exists(), "W&B writes nothing unless asked"
    table = lines[next(i for i, line in enumerate(lines) if "headline figures of this run" in line) :]
    assert any("│ spectral" in line for line in table) and "closed-set accuracy" in table[2]
    bottom = max(i for i, line in enumerate(lines) if line.startswith("└"))
    caption = " ".join(line.strip() for line in lines[bottom + 1 :])  # the table's caption, wrapped
    assert caption.startswith("`modelprint board` renders the full board"), lines[bottom:]
    assert "*" not in " ".join(table), "every figure computed now: none marked as read from the store"

    again = run_lines(capfd, caplog)  # every cell in the store now: skipped, its figures read back, marked
    assert any("skipped 2" in line for line in again)
    body = " ".join(again[again.index(next(x for x in again if "headline figures" in x)) :])
    assert "*" in body and "already in the store" in body


def test_verbose_shows_what_the_libraries_print(caplog: pytest.LogCaptureFixture) -> None:
    """``--verbose`` (here its switch) lets Lightning's banner through; by default it is held back."""
    caplog.set_level(logging.INFO)
    assert not is_verbose()
    quiet_trainer()
    assert "GPU available" not in caplog.text
    with quiet(verbose=True):
        quiet_trainer()
    assert "GPU available" in caplog.text
    assert not is_verbose(), "the switch is put back after the command"


def test_quiet_puts_back_what_it_changed(warnings_printed: None) -> None:
    """A process that imports the suite as a library keeps its own filters and log levels."""
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level, filters = logger.level, list(warnings.filters)
    with quiet():
        assert logger.level == logging.WARNING
    assert logger.level == level and warnings.filters == filters
    set_verbose(False)
