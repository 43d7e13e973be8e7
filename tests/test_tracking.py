"""W&B tracking: offline runs with the figures and the store's run ids; never needed for the store."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.fabricated  # noqa: F401 - registers the 'fabricated' data set
from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.runner import run_benchmark
from core.tracking import wandb_mode
from leaderboards.store import ResultsStore


def spectral_closed_set(tmp_path: Path) -> tuple[ResultsStore, list[str]]:
    store = ResultsStore(tmp_path / "r.sqlite")
    cfg = BenchmarkConfig(
        methods=["spectral"], protocols=["closed_set"], dataset="fabricated", bootstrap_samples=0
    )
    return store, run_benchmark(cfg, store, FeatureCache(tmp_path / "cache")).run_ids


def flushed_run_record(tmp_path: Path) -> bytes:
    """The bytes of the one offline run's transaction log, once wandb's service has written it.

    A command's process exits after its run, and wandb's service process flushes the log when it
    shuts down; pytest's process lives on, so shut the service down as that exit would (read
    before this, the log once held only its 7-byte header, on a loaded CPU).
    """
    import wandb

    wandb.teardown()
    records = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(records) == 1, "one offline W&B run per (method, seed), ready for `wandb sync`"
    return records[0].read_bytes()


def test_an_offline_run_holds_the_figures_and_the_store_run_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPRINT_WANDB", "auto")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.chdir(tmp_path)
    assert wandb_mode() == "offline"
    _, run_ids = spectral_closed_set(tmp_path)
    content = flushed_run_record(tmp_path)  # the run's protobuf records: summary keys and values as text
    assert b"results_store_run_ids" in content and b"closed_set/known_test/accuracy" in content
    assert all(run_id.encode() in content for run_id in run_ids)


def test_a_user_who_never_logged_in_gets_an_offline_run_not_a_login_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default for a fresh user: no WANDB_MODE, no API key -> offline, with no warning
    (Lightning's own offline switch sets WANDB_MODE=dryrun, which wandb 0.31 asks a login for)."""
    import warnings

    monkeypatch.setenv("MODELPRINT_WANDB", "auto")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.chdir(tmp_path)
    assert wandb_mode() == "offline"
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="W&B")
        spectral_closed_set(tmp_path)
    assert len(list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))) == 1


def test_without_wandb_the_figures_still_reach_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_wandb(name: str, *args: object, **kwargs: object) -> object:
        if name == "wandb" or name.startswith("wandb.") or name == "lightning.pytorch.loggers":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setenv("MODELPRINT_WANDB", "offline")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(builtins, "__import__", no_wandb)
    with pytest.warns(UserWarning, match="W&B logging disabled"):
        store, run_ids = spectral_closed_set(tmp_path)
    assert run_ids and store.figure_rows(method="spectral")
    assert not (tmp_path / "wandb").exists()


def test_an_unknown_tracking_mode_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPRINT_WANDB", "sometimes")
    with pytest.raises(ValueError, match="valid: auto, offline, online, off"):
        wandb_mode()


def test_the_board_goes_to_wandb_with_its_plots_and_run_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks.cli import main

    _, run_ids = spectral_closed_set(tmp_path)  # tracking off while the store fills
    monkeypatch.setenv("MODELPRINT_RESULTS", str(tmp_path / "r.sqlite"))
    monkeypatch.setenv("MODELPRINT_WANDB", "offline")
    monkeypatch.chdir(tmp_path)
    assert main(["board", f"--out={tmp_path / 'board'}"]) == 0
    content = flushed_run_record(tmp_path)
    assert b"closed_set / known_test" in content and all(r.encode() in content for r in run_ids)
    assert list((tmp_path / "wandb").glob("offline-run-*/files/media/images/*.png")), "the plots are logged"
