"""Where a data set is read from is not what it is: spellings of one folder, and scratch copies
of it on several machines gathered with ``store merge``, are one data set on the board."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.cli import main
from leaderboards.store import ResultsStore
from leaderboards.tables import build_tables
from tests.test_bring_your_own import QUICK, ZERO_SHOT, image_folder


def zero_shot(path: str, seed: int) -> list[str]:
    return [
        "run",
        "--dataset=imagefolder",
        f"--dataset_args={{path: {path}}}",
        "--protocols=[zero_shot]",
        f"--seeds=[{seed}]",
        *QUICK,
        ZERO_SHOT,
    ]


def the_row(store: ResultsStore, dataset: str = "imagefolder:base") -> list[int]:
    (table,) = [t for t in build_tables(store) if t.dataset == dataset]
    (row,) = table.rows
    return row.seeds


@pytest.mark.slow
def test_spellings_of_one_folder_are_one_data_set(
    private_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = image_folder(private_paths / "base")
    monkeypatch.chdir(private_paths)
    spellings = ["base", "./base", "base/", str(folder.resolve())]
    for seed, path in enumerate(spellings):
        assert main(zero_shot(path, seed)) == 0
    store = ResultsStore(private_paths / "results.sqlite")
    runs = store.runs(protocol="zero_shot")
    assert len(runs) == 4 and not store.runs_on_former_options()
    assert the_row(store) == [0, 1, 2, 3]
    assert {json.loads(r["details_json"])["read_from"]["path"] for r in runs} == set(spellings)
    assert main(zero_shot("./base/", 0)) == 0  # the same cell under another spelling: skipped
    assert len(store.runs(protocol="zero_shot")) == 4


@pytest.mark.slow
def test_scratch_copies_on_two_machines_merge_into_one_row(
    private_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = image_folder(private_paths / "source" / "base")
    for seed, node in enumerate(("node-a", "node-b")):
        copy = shutil.copytree(folder, private_paths / node / "scratch" / "base")
        monkeypatch.setenv("MODELPRINT_RESULTS", str(private_paths / f"{node}.sqlite"))
        assert main(zero_shot(str(copy), seed)) == 0
    monkeypatch.setenv("MODELPRINT_RESULTS", str(private_paths / "merged.sqlite"))
    sources = f"--sources=[{private_paths / 'node-a.sqlite'},{private_paths / 'node-b.sqlite'}]"
    assert main(["store", "merge", sources]) == 0
    assert the_row(ResultsStore(private_paths / "merged.sqlite")) == [0, 1]
