"""Bring your own generators, through the CLI: a folder of generators that are all unseen runs
zero shot against the reference data set's known splits (recorded), data sets are filed under
their own names so experiments never hide each other, loaders guide, and overlap is refused
unless asked for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.cli import main
from leaderboards.store import ResultsStore
from tests.test_public_datasets import genimage_fixture, hf_fixture, png

ZERO_SHOT = "--protocol_args={zero_shot: {gallery_per_model: 4, episodes: 2, pairs_per_episode: 100}}"
QUICK = ["--methods=[spectral]", "--bootstrap_samples=0"]


@pytest.fixture
def workspace(private_paths: Path) -> Path:
    """The test's folder, where conftest's ``private_paths`` put the store and the cache."""
    return private_paths


def image_folder(root: Path, generators: int = 4, images: int = 10) -> Path:
    for g in range(generators):
        for i in range(images):
            png(root / f"gen{g}" / f"{i:02d}.png", size=32)
    return root


def one_line_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_zero_shot_on_a_folder_of_unseen_generators_uses_the_reference_known_splits(workspace: Path) -> None:
    folder = image_folder(workspace / "mine")
    args = ["run", "--dataset=imagefolder", f"--dataset_args={{path: {folder}}}", "--protocols=[zero_shot]"]
    assert main([*args, *QUICK, ZERO_SHOT]) == 0
    (run,) = ResultsStore(workspace / "results.sqlite").runs(protocol="zero_shot")
    details = json.loads(run["details_json"])
    assert run["dataset"] == "imagefolder:mine" and run["split"] == "unseen_all"
    assert details["known_splits_from"] == "zoo (reference)"
    closed = [a.replace("[zero_shot]", "[closed_set]") for a in args]
    assert main([*closed, *QUICK]) == 2  # the reference's closed-set figure is not this data set's
    # a folder that names some of its generators known runs on its own known splits
    assert (
        main(
            [*args[:2], f"--dataset_args={{path: {folder}, known: [gen0, gen1]}}", args[3], *QUICK, ZERO_SHOT]
        )
        == 0
    )
    own = [
        r
        for r in ResultsStore(workspace / "results.sqlite").runs(protocol="zero_shot")
        if r["run_id"] != run["run_id"]
    ]
    assert json.loads(own[0]["details_json"])["known_splits_from"] == "imagefolder"


def test_each_data_set_is_filed_under_its_own_name(workspace: Path) -> None:
    groups = "unseen_architecture: [VQDM], unseen_dataset: [wukong]"
    for name in ("first", "second"):
        genimage_fixture(workspace / name)
        args = f"--dataset_args={{root: {workspace / name}, {groups}}}"
        assert main(["run", "--dataset=genimage", args, "--protocols=[closed_set]", *QUICK]) == 0
    named = f"--dataset_args={{root: {workspace / 'first'}, name: lab-set, {groups}}}"
    assert main(["run", "--dataset=genimage", named, "--protocols=[closed_set]", *QUICK]) == 0
    store = ResultsStore(workspace / "results.sqlite")
    assert {r["dataset"] for r in store.runs()} == {"genimage:first", "genimage:second", "genimage:lab-set"}
    assert {r["dataset"] for r in store.figure_rows()} == {
        "genimage:first",
        "genimage:second",
        "genimage:lab-set",
    }
    assert main(["board", f"--out={workspace / 'board'}"]) == 0
    board = (workspace / "board" / "board.md").read_text()
    assert all(f"(genimage:{n})" in board for n in ("first", "second", "lab-set"))


def test_loaders_guide(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = hf_fixture(workspace)
    only_train = (
        f"--dataset_args={{path: parquet, data_files: {{train: {files['train']}}}, unseen_dataset: [wukong]}}"
    )
    err = one_line_error(["run", "--dataset=hf", only_train, "--protocols=[closed_set]", *QUICK], capsys)
    assert "the data set has no split 'test'" in err and "train_split / test_split" in err
    misspelt = f"--dataset_args={{path: {workspace}, data_dri: x}}"
    err = one_line_error(["run", "--dataset=hf", misspelt, *QUICK], capsys)
    assert "unknown key(s) ['data_dri']" in err and "data_dir" in err
    err = one_line_error(
        ["run", "--dataset=imagefolder", f"--dataset_args={{path: {workspace / 'none'}}}"], capsys
    )
    assert "no such folder (expected one sub-folder of images per generator)" in err


def test_an_overlap_is_refused_unless_asked_for(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = workspace / "data"
    genimage_fixture(root)
    shutil.copy(root / "ADM/train/ai/001.png", root / "ADM/val/ai/000.png")  # a training image in test
    groups = "unseen_architecture: [VQDM], unseen_dataset: [wukong]"
    args = [
        "run",
        "--dataset=genimage",
        f"--dataset_args={{root: {root}, {groups}}}",
        "--protocols=[closed_set]",
    ]
    err = one_line_error([*args, *QUICK], capsys)
    assert "1 image(s) are in two splits" in err and "--allow_overlap=true" in err
    assert main([*args, *QUICK, "--allow_overlap=true"]) == 0
    (run,) = ResultsStore(workspace / "results.sqlite").runs(protocol="closed_set")
    assert json.loads(run["config_json"])["allow_overlap"] is True
