"""The plan on its own: what a run is, worked out without loading images or fitting anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache, FeatureEntry
from benchmarks.plan import PlanError, Variant, cell_label, parse_plan
from core.errors import ConfigError
from datamodules.perturbations import parse_perturbation


def test_a_plan_reads_each_methods_arguments_once_and_each_cell_carries_its_key() -> None:
    plan = parse_plan(
        BenchmarkConfig(
            methods=["spectral", "noise_residual"],
            protocols=["closed_set", "zero_shot"],
            seeds=[0, 1],
            perturbations=["none", "jpeg:75"],
        )
    )
    assert list(plan.methods) == ["spectral", "noise_residual"]
    assert plan.levels == [None, parse_perturbation("jpeg:75")] and plan.dataset_label == "zoo"
    variants = [Variant(p, level) for level in plan.levels for p in plan.protocols]
    cells = plan.cells(variants)
    assert len(cells) == 2 * 2 * 4  # methods x seeds x (protocols x levels)
    first = cells[0]
    assert first.config["method_args"] == plan.methods["spectral"]
    assert first.config["dataset_args"] == {"include_real": "True"}  # the zoo's content option
    assert first.label == cell_label("spectral", "closed_set", 0)
    perturbed = [c for c in cells if c.variant.perturbation is not None]
    assert all(c.config["perturbation"] == "jpeg:75" for c in perturbed)
    assert len({c.config_hash for c in cells if c.seed == 0}) == len(cells) // 2  # seeds share a key


def test_a_shard_keeps_each_method_and_seed_together_and_the_shards_cover_the_plan() -> None:
    cfg = BenchmarkConfig(methods=["spectral", "noise_residual"], protocols=["closed_set"], seeds=[0, 1, 2])
    every = {
        (c.method, c.seed) for c in parse_plan(cfg).cells([Variant(p) for p in parse_plan(cfg).protocols])
    }
    shards = []
    for i in range(3):
        plan = parse_plan(BenchmarkConfig(**{**cfg.__dict__, "shard": f"{i}/3"}))
        shards.append({(c.method, c.seed) for c in plan.cells([Variant(p) for p in plan.protocols])})
    assert set().union(*shards) == every and sum(map(len, shards)) == len(every)


def test_fitting_splits_stay_clean_per_protocol() -> None:
    plan = parse_plan(BenchmarkConfig(methods=["spectral"], protocols=["detection", "zero_shot"]))
    level = parse_perturbation("blur:1")
    detection, zero_shot = (Variant(p, level) for p in plan.protocols)
    assert detection.split_variant("real_train") is None and detection.split_variant("real_test") == level
    assert zero_shot.split_variant("known_val") is None and zero_shot.split_variant("unseen_all") == level


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"protocol_args": {"zero_shot": {"episods": 3}}}, "unknown key"),
        ({"protocol_args": {"zero_shot": {"episodes": "five"}}}, "episodes"),
        ({"protocol_args": {"zero_shot": {"episodes": 2.5}}}, "episodes"),
        ({"protocol_args": {"zero_shot": {"n_way": 1}}}, "n_way must be at least 2"),
        ({"protocol_args": {"zero_shot": {"queries_per_model": 0}}}, "queries_per_model"),
        ({"protocol_args": {"zero_shot": {"validation_pairs": 0}}}, "validation_pairs"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"test_crops": 3}, "test_crops"),
        ({"shard": "3/3"}, "--shard"),
        (  # known_val is fitted on and stays clean: the cells would be clean figures, mislabelled
            {"protocol_args": {"zero_shot": {"split": "known_val"}}, "perturbations": ["jpeg:75"]},
            "tests only on known_val, which the methods fit on",
        ),
    ],
)
def test_bad_arguments_are_refused_by_the_plan(change: dict, message: str) -> None:
    cfg = BenchmarkConfig(methods=["spectral"], protocols=["zero_shot"], **change)
    with pytest.raises((PlanError, ConfigError), match=message):
        parse_plan(cfg)


def test_a_cache_that_cannot_be_written_is_a_warning_and_leaves_no_temp_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache's folder should be")
    cache = FeatureCache(blocker / "features")
    entry = FeatureEntry("m", "d", "known_test", "none")
    cache.save(entry, torch.zeros(3, 2))
    cache.save(entry, torch.zeros(3, 2))
    assert cache.unwritable and cache.load(entry, rows=3) is None
    assert len([r for r in caplog.records if "not written" in r.getMessage()]) == 1  # warned once
    assert not list(tmp_path.rglob("*.tmp*"))


def test_a_name_given_twice_is_refused() -> None:
    with pytest.raises(PlanError, match="more than once"):
        parse_plan(BenchmarkConfig(methods=["spectral", "spectral"]))


def test_yaml_with_a_key_given_twice_or_an_alias_bomb_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.cli import main

    twice = tmp_path / "twice.yaml"
    twice.write_text("methods: [spectral]\nmethods: [noise_residual]\n")
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]" for a, b in zip("abcdef", "bcdefg", strict=True)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")  # about 600 bytes standing for 10 million values
    for path, message in ((twice, "given twice"), (bomb, "expands to more than")):
        assert main(["run", f"--config={path}"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err
