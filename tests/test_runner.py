"""The runner on a fabricated split: every cell recorded, resume, cache, model selection, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

import tests.fabricated
from benchmarks.cli import main
from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.plan import PlanError
from benchmarks.runner import run_benchmark
from core.registry import UnknownNameError
from leaderboards.store import ResultsStore
from lightning_modules import METHODS
from lightning_modules.base import Features
from lightning_modules.spectral import SpectralMethod

FAST = {
    "zero_shot": {"gallery_per_model": 5, "episodes": 4, "pairs_per_episode": 200, "validation_pairs": 200}
}


def config(**kwargs: Any) -> BenchmarkConfig:
    return BenchmarkConfig(
        **{
            "methods": ["spectral"],
            "dataset": "fabricated",
            "bootstrap_samples": 20,
            "protocol_args": FAST,
            **kwargs,
        }
    )


class SpyMethod(SpectralMethod):
    """Spectral, recording which splits reach model selection."""

    seen: ClassVar[list[str]] = []

    def fit_extractor(self, train: Any, val: Any, seed: int) -> dict:
        self.seen.extend([train.name, val.name])
        return {}

    def fit_head(self, train: Features, val: Features, seed: int) -> dict:
        self.seen.extend([train.split, val.split])
        return super().fit_head(train, val, seed)


class ZeroShotOnly(SpectralMethod):
    capabilities: ClassVar[frozenset[str]] = frozenset({"zero_shot"})


@pytest.fixture(autouse=True)
def test_methods() -> Iterator[None]:
    """The spy and a zero-shot-only method exist for this module's tests only."""
    with METHODS.scoped({"spy": SpyMethod, "zero_shot_only": ZeroShotOnly}):
        yield


def figures(store: ResultsStore) -> dict[tuple[str, str, str, str], float]:
    return {(r["method"], r["protocol"], r["split"], r["metric"]): r["value"] for r in store.figure_rows()}


def test_every_cell_lands_with_provenance_and_spectral_finds_the_traces(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    summary = run_benchmark(
        config(protocols=["closed_set", "open_set", "zero_shot"]), store, FeatureCache(tmp_path / "cache")
    )
    assert summary.ran == 3 and summary.skipped == 0
    values = figures(store)
    assert values[("spectral", "closed_set", "known_test", "accuracy")] > 0.9
    assert values[("spectral", "zero_shot", "unseen_all", "identification_accuracy")] > 0.5  # chance: 1/4
    splits = {r["split"] for r in store.runs(protocol="open_set")}
    assert splits == {"unseen_seed", "unseen_dataset", "unseen_architecture", "unseen_all"}
    row = store.figure_rows(metric="accuracy")[0]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    assert row["data_hash"] == "fabricated-v1" and row["git_sha"] and row["package_versions"]


def test_a_second_run_skips_finished_cells_and_a_lost_cell_is_rerun(tmp_path: Path) -> None:
    store, cache = ResultsStore(tmp_path / "r.sqlite"), FeatureCache(tmp_path / "cache")
    run_benchmark(config(protocols=["closed_set", "zero_shot"]), store, cache)
    again = run_benchmark(config(protocols=["closed_set", "zero_shot"]), store, cache)
    assert (again.ran, again.skipped) == (0, 2)
    import sqlite3

    with sqlite3.connect(store.path) as conn:  # as if the run was killed before writing zero shot
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("DELETE FROM runs WHERE protocol='zero_shot'")
    resumed = run_benchmark(config(protocols=["closed_set", "zero_shot"]), store, cache)
    assert (resumed.ran, resumed.skipped) == (1, 1)
    assert resumed.images_featurised == 0 and resumed.cache_hits > 0  # features came from the cache


def test_model_selection_sees_known_train_and_val_only(tmp_path: Path) -> None:
    SpyMethod.seen.clear()
    run_benchmark(
        config(methods=["spy"], protocols=["closed_set", "open_set", "zero_shot"]),
        ResultsStore(tmp_path / "r.sqlite"),
        FeatureCache(tmp_path / "cache"),
    )
    assert set(SpyMethod.seen) == {"known_train", "known_val"}


def test_bad_configurations_fail_before_any_work(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    with pytest.raises(UnknownNameError, match="Did you mean 'spectral'"):
        run_benchmark(config(methods=["spectrl"]), store)
    with pytest.raises(UnknownNameError, match="unknown protocol 'open'"):
        run_benchmark(config(protocols=["open"]), store)
    with pytest.raises(PlanError, match="cannot serve protocol 'closed_set'"):
        run_benchmark(config(methods=["zero_shot_only"], protocols=["closed_set"], protocol_args={}), store)
    with pytest.raises(PlanError, match="split 'unseen_seed' of data set 'fabricated' is empty"):
        run_benchmark(
            config(protocols=["open_set"], protocol_args={}, dataset_args={"empty_splits": ("unseen_seed",)}),
            store,
        )
    assert store.runs() == []


def test_cli_run_with_an_unknown_method_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--methods=[spectrl]", "--dataset=fabricated"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown method 'spectrl'" in err[0]


def test_noise_residual_learns_the_fabricated_traces(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    run_benchmark(
        config(methods=["noise_residual"], protocols=["closed_set", "open_set", "zero_shot"]),
        store,
        FeatureCache(tmp_path / "cache"),
    )
    values = figures(store)
    assert values[("noise_residual", "closed_set", "known_test", "accuracy")] > 0.8  # chance: 1/4
    assert values[("noise_residual", "zero_shot", "unseen_all", "identification_accuracy")] > 0.5


def test_extract_turns_each_batch_into_floats_and_gives_the_methods_own_features() -> None:
    """Per-batch conversion and rows written in place give exactly the features of the whole
    split's float images, for a batch size that does not divide the split."""
    from benchmarks.featurise import extract

    split = tests.fabricated.fabricated_split("known_test")
    method = SpectralMethod()
    expected = method.features(split.images.float() / 127.5 - 1)
    assert torch.equal(extract(method, split, batch_size=7), expected)


class WindowedSpectral(SpectralMethod):
    """Spectral with a fixed 16 px input, as a checkpoint trained at 16 px would have."""

    input_size = 16


def test_test_time_crops_average_the_windows_features_and_are_recorded(tmp_path: Path) -> None:
    from benchmarks.featurise import extract
    from benchmarks.plan import crop_windows

    assert crop_windows(32, 16, 1) == [] and crop_windows(32, 16, 4) == [0, 16]
    assert crop_windows(64, 32, 9) == [0, 16, 32] and crop_windows(16, 16, 9) == [], "no larger: whole"
    method = WindowedSpectral()
    split = tests.fabricated.fabricated_split("known_test")
    images = split.images.float() / 127.5 - 1
    windows = [images[..., y : y + 16, x : x + 16] for y in (0, 16) for x in (0, 16)]
    expected = torch.stack([method.features(w) for w in windows]).mean(0)
    assert torch.allclose(extract(method, split, batch_size=64, crops=4), expected, atol=1e-5)

    store, cache = ResultsStore(tmp_path / "r.sqlite"), FeatureCache(tmp_path / "cache")
    with METHODS.scoped({"windowed": WindowedSpectral}):
        run_benchmark(
            config(methods=["windowed"], protocols=["closed_set"], protocol_args={}, test_crops=4),
            store,
            cache,
        )
        run_benchmark(config(methods=["windowed"], protocols=["closed_set"], protocol_args={}), store, cache)
    configs = [json.loads(r["config_json"]) for r in store.runs(protocol="closed_set")]
    assert sorted(c.get("test_crops", 1) for c in configs) == [1, 4], "two cells: crops are in the key"
    with pytest.raises(PlanError, match="test_crops must be 1 or a square"):
        run_benchmark(config(test_crops=3), store, cache)


def test_rerun_computes_recorded_cells_again_and_replaces_their_runs(tmp_path: Path) -> None:
    store, cache = ResultsStore(tmp_path / "r.sqlite"), FeatureCache(tmp_path / "cache")
    plan = {"protocols": ["closed_set"], "protocol_args": {}}
    run_benchmark(config(**plan), store, cache)
    before, accuracy = store.runs(protocol="closed_set"), figures(store)

    assert run_benchmark(config(**plan), store, cache).skipped == 1
    again = run_benchmark(config(**plan, rerun=True), store, cache)
    after = store.runs(protocol="closed_set")
    assert again.ran == 1 and len(after) == len(before) == 1 and after[0]["run_id"] != before[0]["run_id"]
    assert figures(store) == accuracy, "the same cell computed again gives the same figures"
