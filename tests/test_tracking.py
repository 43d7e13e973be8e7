"""W&B tracking: only when asked; offline runs with the figures and the store's run ids, under the
cache, never in the current directory; never needed for the store."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.fabricated  # noqa: F401 - registers the 'fabricated' data set
from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.runner import run_benchmark
from core.tracking import wandb_dir, wandb_mode
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
    assert not (tmp_path / "wandb").exists(), "nothing written into the current directory"
    records = list((wandb_dir() / "wandb").glob("offline-run-*/run-*.wandb"))
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


def test_nobody_asked_no_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default for a fresh user: no flag, no WANDB_PROJECT/WANDB_MODE, no agent -> no W&B run,
    no W&B lines, no files."""
    for name in ("MODELPRINT_WANDB", "WANDB_MODE", "WANDB_PROJECT", "WANDB_SWEEP_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert wandb_mode() == "off"
    spectral_closed_set(tmp_path)
    assert not (tmp_path / "wandb").exists() and not (wandb_dir() / "wandb").exists()


@pytest.mark.parametrize(
    ("environment", "mode"),
    [
        ({"WANDB_PROJECT": "mine"}, "offline"),  # asked; no key here: offline
        ({"WANDB_SWEEP_ID": "abc123"}, "offline"),  # a sweep agent
        ({"WANDB_MODE": "offline"}, "offline"),
        ({"WANDB_MODE": "disabled", "WANDB_PROJECT": "mine"}, "off"),
        ({"WANDB_PROJECT": "mine", "MODELPRINT_WANDB": "off"}, "off"),  # the suite's switch wins
        ({"MODELPRINT_WANDB": "offline"}, "offline"),
    ],
)
def test_what_asks_for_wandb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], mode: str
) -> None:
    for name in ("MODELPRINT_WANDB", "WANDB_MODE", "WANDB_PROJECT", "WANDB_SWEEP_ID", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert wandb_mode() == mode


def test_the_flag_asks_and_a_user_who_never_logged_in_gets_an_offline_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """``run --wandb=true`` with no API key: a quiet offline run under the cache, no login error and
    no warning (Lightning's own offline switch sets WANDB_MODE=dryrun, which wandb 0.31 asks a
    login for)."""
    import warnings

    from benchmarks.cli import main
    from core.tracking import wandb_asked

    for name in ("MODELPRINT_WANDB", "WANDB_MODE", "WANDB_PROJECT", "WANDB_SWEEP_ID", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="W&B")
        argv = ["run", "--dataset=fabricated", "--methods=[spectral]", "--protocols=[closed_set]"]
        assert main([*argv, "--bootstrap_samples=0", "--wandb=true"]) == 0
    assert not wandb_asked(), "the flag asks for this command only"
    out, err = capfd.readouterr()
    assert "wandb:" not in out + err, "W&B's banner, history and sync hint only with --verbose"
    content = flushed_run_record(tmp_path)
    assert b"closed_set/known_test/accuracy" in content


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
    assert not (tmp_path / "wandb").exists() and not (wandb_dir() / "wandb").exists()


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
    plots = (wandb_dir() / "wandb").glob("offline-run-*/files/media/images/*.png")
    assert list(plots), "the plots are logged"
