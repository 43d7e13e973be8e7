"""Scale-out on one or many machines: shards of a plan cover it exactly once, and stores
written apart merge into one by run key - idempotently, refusing conflicting figures."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import tests.fabricated
from benchmarks.cli import main
from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.plan import PlanError
from benchmarks.runner import run_benchmark
from leaderboards.store import ResultsStore

PLAN = {
    "methods": ["spectral", "noise_residual"],
    "protocols": ["closed_set"],
    "dataset": "fabricated",
    "seeds": [0, 1, 2],
    "bootstrap_samples": 0,
}


def keys(store: ResultsStore) -> set[tuple]:
    return {(r["method"], r["protocol"], r["split"], r["seed"], r["config_hash"]) for r in store.runs()}


def test_shards_cover_the_plan_once_and_merge_into_the_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = ResultsStore(tmp_path / "whole.sqlite")
    run_benchmark(BenchmarkConfig(**PLAN), whole, FeatureCache(tmp_path / "c"))
    shards = []
    for i in range(3):
        store = ResultsStore(tmp_path / f"shard{i}.sqlite")
        run_benchmark(BenchmarkConfig(**PLAN, shard=f"{i}/3"), store, FeatureCache(tmp_path / "c"))
        shards.append(store)
    shard_keys = [keys(s) for s in shards]
    # six cells, and the data set's own record (written by shard 0, as by the whole run)
    assert sum(len(k) for k in shard_keys) == len(keys(whole)) == 6 + 1
    assert set().union(*shard_keys) == keys(whole)
    monkeypatch.setenv("MODELPRINT_RESULTS", str(tmp_path / "merged.sqlite"))
    paths = [str(s.path) for s in shards]
    assert main(["store", "merge", f"--sources=[{','.join(paths)}]"]) == 0
    merged = ResultsStore(tmp_path / "merged.sqlite")
    assert keys(merged) == keys(whole)
    assert sorted(r["value"] for r in merged.figure_rows()) == sorted(r["value"] for r in whole.figure_rows())
    assert main(["store", "merge", f"--sources=[{','.join(paths)}]"]) == 0  # idempotent
    assert main(["store", "merge", f"--sources={paths[0]}"]) == 0, "one store, no brackets"
    assert len(merged.runs()) == 6 + 1
    assert main(["store", "check"]) == 0


def test_a_conflicting_run_stops_the_merge_with_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = {**PLAN, "seeds": [0], "methods": ["spectral"]}
    a, b = ResultsStore(tmp_path / "a.sqlite"), ResultsStore(tmp_path / "b.sqlite")
    run_benchmark(BenchmarkConfig(**plan), a, FeatureCache(tmp_path / "c"))
    run_benchmark(BenchmarkConfig(**plan), b, FeatureCache(tmp_path / "c"))
    with sqlite3.connect(b.path) as conn:
        conn.execute("UPDATE figures SET value = value / 2 WHERE metric = 'accuracy'")
    monkeypatch.setenv("MODELPRINT_RESULTS", str(tmp_path / "merged.sqlite"))
    assert main(["store", "merge", f"--sources=[{a.path},{b.path}]"]) == 2
    err = capsys.readouterr().err
    assert "1 run(s) conflict with a run of the same key and other figures" in err and "b.sqlite" in err
    assert ResultsStore(tmp_path / "merged.sqlite").runs() == []


def test_a_bad_shard_is_refused() -> None:
    with pytest.raises(PlanError, match="expected i/n with 0 <= i < n"):
        run_benchmark(BenchmarkConfig(**PLAN, shard="3/3"), ResultsStore(":memory:"))


DDP_SPAWN = {"accelerator": "cpu", "devices": 2, "strategy": "ddp_spawn"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["supervised_cnn", "fingerprint_real", "pose"])
def test_a_trained_baseline_trains_on_two_processes(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trained baselines take Lightning's hardware arguments: two DDP processes (gloo on
    CPU) train, the main process gets the weights back, and the run records where it trained."""
    import torch

    from lightning_modules import METHODS
    from lightning_modules.method_config import method_args
    from tests.tiny_methods import TEST_ARGS

    monkeypatch.setenv("MODELPRINT_CACHE", str(tmp_path))
    method = METHODS.create(name, **method_args(name, {**TEST_ARGS[name], "hardware": DDP_SPAWN}))
    train, val, test = (
        tests.fabricated.fabricated_split(s) for s in ("known_train", "known_val", "known_test")
    )
    info = method.fit_extractor(train, val, seed=0)
    assert info["hardware"]["world_size"] == 2 and info["hardware"]["devices"] == 2
    features = method.features(test.images.float() / 127.5 - 1)
    assert features.shape[0] == len(test.labels) and torch.isfinite(features).all()


def test_hardware_arguments_are_checked_before_anything_trains() -> None:
    from core.errors import ModelprintError
    from lightning_modules import METHODS

    with pytest.raises(ModelprintError, match=r"unknown key\(s\) \['gpus'\]"):
        METHODS.create("supervised_cnn", hardware={"gpus": 2})
    with pytest.raises(ModelprintError, match="needs strategy ddp_spawn"):
        METHODS.create("pose", hardware={"devices": 4, "strategy": "ddp"})
