"""Every user mistake and every damaged file ends in one clear line (exit status 2) before any
fitting, paths stay inside their data set, names from the store are inert in file names and
HTML, the feature cache never serves a wrong entry, the store can be checked, and two runs of
one plan never compute a cell twice. Each case runs the CLI as a user would."""

from __future__ import annotations

import re
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import torch

from benchmarks.cli import main
from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.plan import Variant, parse_plan
from benchmarks.runner import load_splits, run_benchmark
from benchmarks.split_integrity import data_set_hash
from core.paths import file_slug
from leaderboards.claims import CellClaims
from leaderboards.store import Figure, ResultsStore, RunRecord
from tests.conftest import REPO_ROOT
from tests.test_public_datasets import genimage_fixture, hf_fixture, osma_fixture, png

GROUPS = "unseen_architecture: [VQDM], unseen_dataset: [wukong]"
SMALL = ["--methods=[spectral]", "--bootstrap_samples=0", "--protocols=[closed_set,open_set]"]


@pytest.fixture
def workspace(private_paths: Path) -> Path:
    """The test's folder, where conftest's ``private_paths`` put the store and the cache."""
    return private_paths


def one_line(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI; it must end with exit status 2 and one line on stderr, no traceback."""
    status = main(args)
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def genimage_args(root: Path) -> list[str]:
    return ["run", "--dataset=genimage", f"--dataset_args={{root: {root}, {GROUPS}}}", *SMALL]


def osma_args(root: Path) -> list[str]:
    return [
        "run",
        "--dataset=osma",
        f"--dataset_args={{annotations: {root}/annotations, root: {root}}}",
        *SMALL,
    ]


def zero_by_zero_png(path: Path) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 0, 0, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


# 1. one line, exit 2, before any fitting -------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("truncated", r"ADM/val/ai/000.png: cannot decode image \(image file is truncated\)"),
        ("not_an_image", r"ADM/val/ai/000.png: cannot decode image \(cannot identify image file"),
        ("zero_by_zero", r"ADM/val/ai/000.png: cannot decode image"),
        ("empty_folder", r"BigGAN/val/ai: no images in this generator folder"),
        ("missing_generator", r"data: no generator folder for \['VQDMX'\]; found \['ADM', "),
    ],
)
def test_genimage_damage_is_one_line(
    workspace: Path, capsys: pytest.CaptureFixture[str], damage: str, expected: str
) -> None:
    root = workspace / "data"
    genimage_fixture(root)
    image = root / "ADM/val/ai/000.png"
    args = genimage_args(root)
    if damage == "truncated":
        image.write_bytes(image.read_bytes()[:200])
    elif damage == "not_an_image":
        image.write_bytes(b"hello")
    elif damage == "zero_by_zero":
        zero_by_zero_png(image)
    elif damage == "empty_folder":
        for f in (root / "BigGAN/val/ai").iterdir():
            f.unlink()
    else:
        args = [a.replace("[VQDM]", "[VQDMX]") for a in args]
    err = one_line(args, capsys)
    assert re.search(expected, err), err
    assert not (workspace / "cache").exists()  # nothing was featurised


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("malformed", "val.txt:15: expected 'path<TAB>label', got 'images/val/0/0.png'"),
        ("not_utf8", "val.txt: not UTF-8 text (invalid start byte at byte"),
        ("escape", "val.txt:15: path '../../../../etc/passwd' leaves the data set root"),
        ("absolute", "val.txt:15: path '/etc/passwd' leaves the data set root"),
        ("missing_annotations", "missing required key(s) ['annotations']"),
        ("misspelt", "unknown key(s) ['annotation']"),
    ],
)
def test_osma_damage_is_one_line(
    workspace: Path, capsys: pytest.CaptureFixture[str], damage: str, expected: str
) -> None:
    root = workspace / "data"
    val = osma_fixture(root) / "val.txt"
    args = osma_args(root)
    if damage == "malformed":
        val.write_text(val.read_text() + "images/val/0/0.png\n")
    elif damage == "not_utf8":
        val.write_bytes(val.read_bytes() + b"images/\xff\xfe.png\t0\n")
    elif damage in ("escape", "absolute"):
        path = "../../../../etc/passwd" if damage == "escape" else "/etc/passwd"
        val.write_text(val.read_text() + f"{path}\t0\n")
    elif damage == "missing_annotations":
        args[2] = f"--dataset_args={{root: {root}}}"
    else:
        args[2] = args[2].replace("annotations:", "annotation:")
    assert expected in one_line(args, capsys)


def test_plan_mistakes_are_one_line(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = workspace / "data"
    genimage_fixture(root)
    base = genimage_args(root)
    assert "bootstrap_samples must be 0 (no intervals) or at least" in one_line(
        [*base, "--bootstrap_samples=-3"], capsys
    )
    assert "out of range: a seed is an integer in [0, 2**32)" in one_line(
        [*base, "--seeds=[4294967296]"], capsys
    )
    assert "zero shot needs more than gallery_per_model=10 images per generator" in one_line(
        [a if not a.startswith("--protocols") else "--protocols=[zero_shot]" for a in base], capsys
    )


def test_debug_shows_the_traceback_of_a_user_mistake(workspace: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "run", "--dataset=synthetic", "--debug"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert done.returncode != 0 and "Traceback" in done.stderr and "is a training data set" in done.stderr


# 2. names from the store are inert in file names and HTML --------------------------------------

HOSTILE = "<script>alert('x')</script>/../\"evil\""


def test_hostile_names_from_the_store_are_sanitised_and_escaped(workspace: Path) -> None:
    store = ResultsStore(workspace / "results.sqlite")
    details = {"confusion_matrix": [[1, 0], [0, 1]], "generators": ["a", "b"], "cell_splits": ["known_test"]}
    record = RunRecord(HOSTILE, "closed_set", "zoo", "known_test", 0, {}, "d", "sha", {}, "cpu", 1.0, details)
    store.write_run(record, [Figure("accuracy", 0.5)])
    out = workspace / "board"
    assert main(["board", f"--out={out}", f"--site={workspace / 'site'}"]) == 0
    written = [p for p in (workspace).rglob("*") if p.is_file()]
    assert all(p.is_relative_to(workspace) for p in written)
    assert not any("<" in p.name or '"' in p.name for p in written)
    confusion = out / f"confusion_{file_slug(HOSTILE)}_zoo.png"
    assert confusion.exists() and "/" not in file_slug(HOSTILE)
    pages = [*out.rglob("*.html"), *(workspace / "site").rglob("*.html")]
    assert pages
    for page in pages:
        text = page.read_text()
        assert "<script>alert" not in text and "&lt;script&gt;" in text
    assert "<script>" not in (out / "board.md").read_text()
    assert file_slug("a:b") != file_slug("a_b") and file_slug("spectral") == "spectral"


# 3. the feature cache never serves a wrong entry -----------------------------------------------


def spectral_closed_set(root: Path) -> BenchmarkConfig:
    groups = {"unseen_architecture": ["VQDM"], "unseen_dataset": ["wukong"]}
    return BenchmarkConfig(
        methods=["spectral"],
        protocols=["closed_set"],
        dataset="genimage",
        dataset_args={"root": str(root), **groups},
        bootstrap_samples=0,
    )


def cached_run(root: Path, cache: FeatureCache, store_name: str) -> tuple[float, list[str]]:
    cfg = spectral_closed_set(root)
    store = ResultsStore(root.parent / store_name)
    run_benchmark(cfg, store, cache)
    (row,) = store.figure_rows(metric="accuracy")
    return row["value"], list(cache.rejected)


@pytest.mark.parametrize("damage", ["truncated", "empty", "swapped", "wrong_rows", "no_array", "flipped"])
def test_a_bad_cache_entry_is_reported_deleted_and_recomputed(tmp_path: Path, damage: str) -> None:
    root = tmp_path / "data"
    genimage_fixture(root)
    cache = FeatureCache(tmp_path / "cache")
    reference, _ = cached_run(root, cache, "a.sqlite")
    entries = sorted((tmp_path / "cache").glob("*.pt"), key=lambda p: p.stat().st_size)
    small, large = entries[0], entries[-1]
    if damage == "truncated":
        large.write_bytes(large.read_bytes()[:100])
    elif damage == "empty":
        large.write_bytes(b"")
    elif damage == "swapped":
        large.write_bytes(small.read_bytes())
    else:
        record = torch.load(large, weights_only=True)
        if damage == "wrong_rows":
            record["features"] = record["features"][:-1]
        elif damage == "no_array":
            del record["features"]
        else:
            record["features"][0, 0] += 1.0  # same shape, its recorded content hash no longer holds
        torch.save(record, large)
    fresh = FeatureCache(tmp_path / "cache")
    value, rejected = cached_run(root, fresh, "b.sqlite")
    assert value == reference  # recomputed, never used
    assert len(rejected) == 1 and str(large) in rejected[0]
    assert fresh.load.__self__ is fresh and large.exists()  # rewritten by the recomputation
    assert FeatureCache(tmp_path / "cache").rejected == []


# 4. the store can be checked -------------------------------------------------------------------


def test_store_check_finds_runs_without_figures_and_orphan_figures(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ResultsStore(workspace / "results.sqlite")
    run = RunRecord("spectral", "closed_set", "zoo", "known_test", 0, {}, "d", "sha", {}, "cpu", 1.0)
    store.write_run(run, [Figure("accuracy", 0.5)])
    assert main(["store", "check"]) == 0 and "ok (1 runs" in capsys.readouterr().out
    with sqlite3.connect(workspace / "results.sqlite") as conn:
        conn.execute("DELETE FROM figures")
        conn.execute("INSERT INTO figures VALUES ('ghost', 'accuracy', 0.1, NULL, NULL)")
    assert main(["store", "check"]) == 1
    out = capsys.readouterr().out
    assert f"run {run.run_id} (spectral / closed_set / known_test / seed 0) has no figures" in out
    assert "1 figure(s) of run ghost, which is not in the store" in out


def test_a_damaged_store_names_the_integrity_check_answer(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = workspace / "results.sqlite"
    store = ResultsStore(path)
    for seed in range(300):
        run = RunRecord(
            "m", "closed_set", "zoo", "known_test", seed, {"x": "y" * 200}, "d", "s", {}, "cpu", 1.0
        )
        store.write_run(run, [Figure("accuracy", 0.5)])
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    data[3 * page : 5 * page] = b"\x0f" * (2 * page)  # two b-tree pages overwritten
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    err = one_line(["store", "check"], capsys) if main(["store", "check"]) == 2 else None
    if err is None:  # SQLite opened it: the check itself reports the damage
        assert main(["store", "check"]) == 1
        assert "PRAGMA integrity_check:" in capsys.readouterr().out
    else:
        assert "PRAGMA integrity_check" in err
    assert "PRAGMA integrity_check" in one_line(["run", "--methods=[spectral]"], capsys)
    assert path.read_bytes() == before  # never overwritten


# 5. two runs of one plan never compute a cell twice --------------------------------------------


def test_a_cell_claimed_by_a_dead_run_is_taken_over_when_its_lease_lapses(tmp_path: Path) -> None:
    root = tmp_path / "data"
    genimage_fixture(root)
    store = ResultsStore(tmp_path / "r.sqlite")
    cfg = spectral_closed_set(root)
    dead = CellClaims(store, lease_s=1.5)  # claims, never renews: a killed run

    plan = parse_plan(cfg)
    splits, _, _ = load_splits(cfg)
    cells = plan.cells([Variant(p) for p in plan.protocols])
    assert dead.claim([c.claim_id(plan.dataset_label, data_set_hash(splits)) for c in cells])
    start = time.monotonic()
    summary = run_benchmark(cfg, store, FeatureCache(tmp_path / "cache"), poll_s=0.2)
    assert summary.ran == 1 and summary.skipped == 0
    assert time.monotonic() - start >= 1.5  # it waited for the lease to lapse, then took the cell


def test_a_claim_of_a_killed_process_on_this_host_is_taken_at_once(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = CellClaims(store, lease_s=3600)
    dead.owner = f"{socket.gethostname()}:{finished.stdout.strip()}:x"
    assert dead.claim(["cell"]) == {"cell"}
    alive = CellClaims(store, lease_s=3600)
    assert alive.claim(["cell"]) == {"cell"}  # no hour-long wait for a process that is gone
    assert CellClaims(store).claim(["cell"]) == set()  # a live owner's claim holds


CONCURRENT = """
import sys
from benchmarks.feature_cache import FeatureCache
from benchmarks.config import BenchmarkConfig
from benchmarks.runner import run_benchmark
from leaderboards.store import ResultsStore
root, store, cache = sys.argv[1:4]
cfg = BenchmarkConfig(methods=["spectral", "noise_residual"], protocols=["closed_set", "open_set"],
    dataset="genimage", seeds=[0, 1], bootstrap_samples=0,
    dataset_args={"root": root, "unseen_architecture": ["VQDM"], "unseen_dataset": ["wukong"]})
s = run_benchmark(cfg, ResultsStore(store), FeatureCache(cache), poll_s=0.2)
print("counts", s.ran, s.skipped, s.reused)
"""


def test_two_runs_of_one_plan_compute_each_cell_once(tmp_path: Path) -> None:
    root = tmp_path / "data"
    genimage_fixture(root)
    command = [sys.executable, "-c", CONCURRENT, str(root), str(tmp_path / "r.sqlite")]
    runs = [
        subprocess.Popen(
            [*command, str(tmp_path / f"cache{i}")], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
        )
        for i in range(2)
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    counts = [tuple(map(int, out.split("counts")[-1].split())) for out in outputs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert sum(ran for ran, _, _ in counts) == 8  # 2 methods x 2 protocols x 2 seeds, each once
    assert all(ran + skipped + reused == 8 for ran, skipped, reused in counts)
    assert len(ResultsStore(tmp_path / "r.sqlite").runs(protocol="open_set")) == 2 * 2 * 3
    assert (
        len(ResultsStore(tmp_path / "r.sqlite").runs(protocol="closed_set")) == 2 * 2
    )  # closed: 1 split, open: 3
    with sqlite3.connect(tmp_path / "r.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0  # all released


def test_hf_image_paths_stay_inside_the_data_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import datasets

    files = hf_fixture(tmp_path)
    outside = png(tmp_path.parent / f"{tmp_path.name}-outside.png")
    table = datasets.load_dataset("parquet", data_files=files, split="train").cast_column(
        "image", datasets.Image(decode=False)
    )
    rows = table.to_dict()
    rows["image"][0] = {"bytes": None, "path": str(outside)}
    bad = tmp_path / "bad.parquet"
    datasets.Dataset.from_dict(rows, features=table.features).to_parquet(str(bad))
    args = f"{{path: parquet, data_files: {{train: {bad}, test: {files['test']}}}, {GROUPS}}}"
    capsys.readouterr()  # the fixture's own progress bars
    err = one_line(["run", "--dataset=hf", f"--dataset_args={args}", *SMALL], capsys)
    assert f"[train] row 0: image path {str(outside)!r} leaves the data set's folders" in err
