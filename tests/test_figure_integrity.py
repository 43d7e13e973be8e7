"""No stale, leaked or half-written figure reaches the board: the data hash covers every split,
splits are checked for leaks before fitting, a cell is written whole, and the store is checked
before the work. Each case runs as a user would (the runner, or the CLI in a fresh process)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.plan import PlanError
from benchmarks.runner import run_benchmark
from core.errors import ConfigError, DataError, ModelprintError
from datamodules import DATASETS
from datamodules.public.images import BadImageError, read_image
from leaderboards.store import Figure, ResultsStore, RunRecord, StoreError
from tests.conftest import REPO_ROOT, run_cli
from tests.test_public_datasets import genimage_fixture, osma_fixture, png

SPECTRAL = {"methods": ["spectral"], "bootstrap_samples": 0}
GROUPS = {"unseen_architecture": ["VQDM"], "unseen_dataset": ["wukong"]}


def run(tmp_path: Path, dataset: str, args: dict, **cfg: object):
    config = BenchmarkConfig(dataset=dataset, dataset_args=args, **{**SPECTRAL, **cfg})
    store = ResultsStore(tmp_path / "r.sqlite")
    return run_benchmark(config, store, FeatureCache(tmp_path / "cache")), store


# 1. the data hash covers every split -------------------------------------------------------


def test_a_changed_test_image_makes_a_new_run_not_a_skip(tmp_path: Path) -> None:
    genimage_fixture(tmp_path / "g")
    args = {"root": str(tmp_path / "g"), **GROUPS}
    first, store = run(tmp_path, "genimage", args, protocols=["closed_set"])
    again, _ = run(tmp_path, "genimage", args, protocols=["closed_set"])
    assert (first.ran, again.ran, again.skipped) == (1, 0, 1)
    png(tmp_path / "g" / "ADM" / "val" / "ai" / "000.png")  # a new known_test image, same name
    changed, _ = run(tmp_path, "genimage", args, protocols=["closed_set"])
    assert changed.ran == 1
    png(tmp_path / "g" / "VQDM" / "val" / "ai" / "001.png")  # an unseen image: closed set reads none
    changed, _ = run(tmp_path, "genimage", args, protocols=["closed_set"])
    assert changed.ran == 1  # the hash is the data set's, whatever the plan reads
    assert len({r["data_hash"] for r in store.runs()}) == 3


def test_a_fixed_bad_file_makes_a_new_run_without_the_old_skip_list(tmp_path: Path) -> None:
    ann = osma_fixture(tmp_path)
    bad = tmp_path / "images/test_known/0/1.png"
    good = bad.read_bytes()
    bad.write_bytes(b"not an image")
    args = {"annotations": str(ann), "root": str(tmp_path), "skip_bad": True}
    _, store = run(tmp_path, "osma", args, protocols=["closed_set"])
    bad.write_bytes(good)
    fixed, _ = run(tmp_path, "osma", args, protocols=["closed_set"])
    assert fixed.ran == 1
    latest = json.loads(store.figure_rows(method="spectral")[0]["details_json"])
    assert "skipped_images" not in latest


# 2. split integrity, before any fitting ---------------------------------------------------


def test_a_generator_in_two_roles_is_refused(tmp_path: Path) -> None:
    genimage_fixture(tmp_path / "g")
    with pytest.raises(ConfigError, match="'VQDM' is named as known and unseen_architecture"):
        DATASETS.create("genimage", root=str(tmp_path / "g"), known=["ADM", "BigGAN", "VQDM"], **GROUPS)
    with pytest.raises(ConfigError, match="'VQDM' is named as unseen_seed and unseen_architecture"):
        DATASETS.create("genimage", root=str(tmp_path / "g"), unseen_seed=["VQDM"], **GROUPS)


def test_an_osma_unknown_file_listing_known_generators_or_images_is_refused(tmp_path: Path) -> None:
    ann = osma_fixture(tmp_path)
    args = {"annotations": str(ann), "root": str(tmp_path)}
    known_lines = (ann / "test_known.txt").read_text()
    (ann / "test_unknown_seed.txt").write_text(known_lines)  # known images under known labels
    with pytest.raises(DataError, match="generator '0' is both known and unseen_seed"):
        run(tmp_path, "osma", args)
    relabelled = known_lines.replace("\t0", "\t9").replace("\t1", "\t9").replace("\t2", "\t9")
    (ann / "test_unknown_seed.txt").write_text(relabelled)  # the same images under a new label
    with pytest.raises(DataError, match=r"image\(s\) are in two splits.*test_unknown_seed.txt:\d+"):
        run(tmp_path, "osma", args)


def test_an_image_in_train_and_test_is_refused(tmp_path: Path) -> None:
    genimage_fixture(tmp_path / "g")
    shutil.copy(tmp_path / "g/ADM/train/ai/001.png", tmp_path / "g/ADM/val/ai/000.png")
    with pytest.raises(DataError, match=r"1 image\(s\) are in two splits, e.g. .*ADM/val/ai/000.png"):
        run(tmp_path, "genimage", {"root": str(tmp_path / "g"), **GROUPS})


@pytest.mark.parametrize("fraction", [0, -0.5, 1, 1.5])
def test_val_fraction_outside_0_1_is_refused(tmp_path: Path, fraction: float) -> None:
    genimage_fixture(tmp_path / "g")
    with pytest.raises(ConfigError, match="val_fraction must be in"):
        DATASETS.create("genimage", root=str(tmp_path / "g"), val_fraction=fraction, **GROUPS)


def test_a_null_generator_label_is_a_bad_row(tmp_path: Path) -> None:
    import datasets

    rows = {"image": [], "generator": []}
    for i in range(12):
        rows["image"].append({"bytes": png(tmp_path / "src" / f"{i}.png").read_bytes(), "path": None})
        rows["generator"].append(None if i == 5 else ["A", "B"][i % 2])
    features = datasets.Features({"image": datasets.Image(), "generator": datasets.Value("string")})
    datasets.Dataset.from_dict(rows, features=features).to_parquet(str(tmp_path / "t.parquet"))
    args = {"path": "parquet", "data_files": {"train": str(tmp_path / "t.parquet")}, "test_split": "train"}

    def known_train(**extra: object):
        dm = DATASETS.create("hf", split="known_train", **args, **extra)
        dm.setup()
        return dm.split

    with pytest.raises(DataError, match=r"row 5: no generator \(null label\)"):
        known_train()
    split = known_train(skip_bad=True)
    assert split.generator_ids == ("A", "B") and split.skipped == (
        "parquet [train] row 5: no generator (null label)",
    )


# 3. one cell, one transaction --------------------------------------------------------------


def record(split: str, subsets: list[str]) -> RunRecord:
    config = {"method": "m", "protocol_args": {"subsets": subsets}}
    return RunRecord("m", "open_set", "zoo", split, 0, config, "d", "sha", {}, "cpu", 1.0)


def test_a_cell_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    subsets = ["unseen_seed", "unseen_all"]

    def figures_then_death():
        yield Figure("auroc", 0.5)
        raise KeyboardInterrupt  # killed while writing the cell's second split

    with pytest.raises(KeyboardInterrupt):
        store.write_runs(
            [
                (record("unseen_seed", subsets), [Figure("auroc", 0.7)]),
                (record("unseen_all", subsets), figures_then_death()),
            ]
        )
    assert store.runs() == []


def test_the_board_leaves_out_a_half_written_cell_of_an_older_store_with_a_note(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.sqlite")
    four = ["unseen_seed", "unseen_dataset", "unseen_architecture", "unseen_all"]
    for split in four[:2]:  # an older store: the subsets were written one transaction each
        store.write_run(record(split, four), [Figure("auroc", 0.7)])
    assert store.figure_rows() == [] and len(store.runs()) == 2
    (note,) = [n for _, n in store.incomplete_cells()]
    assert "m / open_set / zoo / seed 0: only ['unseen_dataset', 'unseen_seed']" in note
    done = run_cli("board", f"--out={tmp_path / 'board'}")
    assert done.returncode == 2 and "left off the board" in done.stdout and "holds no figures" in done.stderr


# 4. the store checked before the work --------------------------------------------------------


def can_make_read_only() -> bool:
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return os.geteuid() == 0 and probe.returncode == 0


def run_cli_on_read_only(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``modelprint`` in a mount namespace where ``folder`` is a read-only bind mount."""
    script = f'mount --bind "{folder}" "{folder}" && mount -o remount,ro,bind "{folder}" && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", sys.executable, "-m", "benchmarks", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        timeout=300,
    )


@pytest.mark.skipif(not can_make_read_only(), reason="needs root and mount namespaces for a read-only mount")
def test_a_read_only_store_is_refused_before_the_work_and_the_board_still_reads_it(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    store = ResultsStore(folder / "results.sqlite")
    store.write_runs(
        [
            (record(s, ["unseen_seed", "unseen_all"]), [Figure("auroc", 0.7)])
            for s in ("unseen_seed", "unseen_all")
        ]
    )
    os.environ["MODELPRINT_RESULTS"] = str(folder / "results.sqlite")
    done = run_cli_on_read_only(
        folder, "run", "--methods=[spectral]", "--dataset=genimage", "--dataset_args={root: /nonexistent}"
    )
    assert done.returncode == 2 and "cannot be written" in done.stderr and "nothing was run" in done.stderr
    assert "GenImage root folder not found" not in done.stderr  # refused before the data loaded
    board = run_cli_on_read_only(folder, "board", f"--out={tmp_path / 'board'}")
    assert board.returncode == 0, board.stderr
    assert "0.7" in (tmp_path / "board" / "board.md").read_text()


@pytest.mark.skipif(shutil.which("chattr") is None or os.geteuid() != 0, reason="needs root and chattr")
def test_an_immutable_store_file_is_refused_up_front(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    ResultsStore(path)
    (tmp_path / "results.sqlite-wal").unlink(missing_ok=True)
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("this file system does not take the immutable flag")
    try:
        with pytest.raises(StoreError, match="cannot be written"):
            ResultsStore(path).check_writable()
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_damaged_store_is_one_line_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    path.write_bytes(b"\0" * 8192)
    with pytest.raises(StoreError, match=r"cannot be used .*left as it is"):
        ResultsStore(path)
    assert path.read_bytes() == b"\0" * 8192


# 5. open set on the unseen groups a data set has; the docs' examples run as written ------------


def test_open_set_runs_on_the_groups_present_and_names_the_absent_ones(tmp_path: Path) -> None:
    genimage_fixture(tmp_path / "g")
    _, store = run(
        tmp_path,
        "genimage",
        {"root": str(tmp_path / "g"), "unseen_architecture": ["VQDM"]},
        protocols=["open_set"],
    )
    runs = store.runs(protocol="open_set")
    assert sorted(r["split"] for r in runs) == ["unseen_all", "unseen_architecture"]
    details = json.loads(runs[0]["details_json"])
    assert details["absent_splits"] == ["unseen_seed", "unseen_dataset", "semantic_shift"]
    assert details["cell_splits"] == ["unseen_architecture", "unseen_all"]
    with pytest.raises(PlanError, match=r"protocol 'zero_shot' needs .*no unseen_seed"):
        run(
            tmp_path,
            "genimage",
            {"root": str(tmp_path / "g"), "known": ["ADM", "BigGAN"]},
            protocols=["zero_shot"],
        )


#: the peers' data sets by name (datamodules/peers/): their docs lines need the peers' real
#: data; tests/test_peer_layouts.py runs each layout on a miniature instead
PEER_DATASETS = ("imageattributionbench", "aigenbench", "communityforensics", "drct", "synthbuster")


def doc_commands(page: Path) -> list[str]:
    return [
        line
        for line in page.read_text().splitlines()
        if line.startswith(".venv/bin/modelprint run")
        and not any(f"--dataset={peer} " in line for peer in PEER_DATASETS)
    ]


def test_the_data_set_examples_in_the_docs_run_as_written(tmp_path: Path) -> None:
    """docs/data.md's commands, run verbatim from a folder holding data in the layouts they name."""
    from tests.test_public_datasets import hf_fixture

    commands = doc_commands(REPO_ROOT / "docs" / "data.md")
    assert len(commands) == 6
    (tmp_path / ".venv").symlink_to(REPO_ROOT / ".venv")
    osma_fixture(tmp_path / "data" / "osma", per_generator=12)  # zero shot: > 10 per generator
    (tmp_path / "data" / "osma" / "annotations").rename(tmp_path / "data" / "osma" / "split1")
    genimage_fixture(tmp_path / "data" / "GenImage", val_images=12)
    files = hf_fixture(tmp_path / "hf", test_images=12)
    for generator in ("my-gan", "sdxl-turbo", "gen-c", "gen-d"):
        for i in range(15):
            png(tmp_path / "mine" / generator / f"{i:02d}.png")
    for name, part in (("tr.parquet", "train"), ("te.parquet", "test")):
        shutil.copy(files[part], tmp_path / name)
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=os.environ.copy(),
            timeout=600,
        )
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
    names = {r["dataset"] for r in ResultsStore(os.environ["MODELPRINT_RESULTS"]).runs()}
    assert names == {
        "osma:osma",
        "genimage:GenImage",
        "genimage:GenImage-real",
        "hf:tr",
        "imagefolder:mine",
        "imagefolder:mine-known",
    }


# 6. loaders read regular files by one rule ----------------------------------------------------


def test_a_fifo_named_png_is_a_bad_file_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.png")
    with pytest.raises(BadImageError, match="not a regular file"):
        read_image(str(tmp_path / "x.png"), 32)


def test_integer_and_float_images_follow_the_type_range_and_nan_is_bad(tmp_path: Path) -> None:
    Image.fromarray(np.full((40, 40), 1000, np.int32)).save(tmp_path / "i32.tif")
    assert (read_image(str(tmp_path / "i32.tif"), 32) == 0).all()  # 1000 of 2**31 - 1 is black
    Image.fromarray(np.full((40, 40), 2**30, np.int32)).save(tmp_path / "half.tif")
    assert (read_image(str(tmp_path / "half.tif"), 32) == 128).all()
    Image.fromarray(np.full((40, 40), 0.5, np.float32)).save(tmp_path / "f.tif")
    assert (read_image(str(tmp_path / "f.tif"), 32) == 128).all()
    Image.fromarray(np.full((40, 40), np.nan, np.float32)).save(tmp_path / "nan.tif")
    with pytest.raises(BadImageError, match="NaN or infinite"):
        read_image(str(tmp_path / "nan.tif"), 32)
    assert issubclass(BadImageError, ModelprintError)
