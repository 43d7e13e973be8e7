"""One's own folders as they come from real machines: hidden folders, names typed differently
from how the file system stores them, zero-padded names, byte-order marks, link loops, an exact
validation share - and a store or a results path that cannot be used is one line."""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path

import pytest

from benchmarks.cli import main
from core.yaml_config import load_yaml
from datamodules.public.imagefolder import ImageFolderDataModule
from datamodules.public.osma import read_annotations
from tests.test_public_datasets import png
from tests.test_user_errors import one_line

RUN = ["--methods=[spectral]", "--protocols=[closed_set]", "--bootstrap_samples=0"]


def folder_of(root: Path, names: list[str], per_generator: int = 6) -> Path:
    for name in names:
        for i in range(per_generator):
            png(root / name / f"{i}.png", size=32)
    return root


def test_hidden_folders_and_files_are_not_generators_or_images(tmp_path: Path) -> None:
    root = folder_of(tmp_path / "data", ["alpha", "beta", ".ipynb_checkpoints"])
    png(root / "alpha" / "._0.png", size=16)  # macOS's resource-fork twin of 0.png
    data = ImageFolderDataModule(root)
    assert data.generators == ["alpha", "beta"]
    assert len(data.images("alpha")) == 6


def test_a_decomposed_folder_name_is_found_by_its_composed_spelling(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "café")
    root = folder_of(tmp_path / "data", [decomposed, "beta"])
    data = ImageFolderDataModule(root, known=[unicodedata.normalize("NFC", "café"), "beta"])
    assert data.known_generators() == ("beta", "café")
    assert {e.generator for e in data.entries("known_train")} == {"beta", "café"}


def test_a_zero_padded_name_stays_text(private_paths: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert load_yaml("{known: [007, 7, 0, 0.5]}") == {"known": ["007", 7, 0, 0.5]}
    root = folder_of(private_paths / "data", ["007", "alpha", "beta"])
    assert (
        main(["run", "--dataset=imagefolder", f"--dataset_args={{path: {root}, known: [007, alpha]}}", *RUN])
        == 0
    )
    capsys.readouterr()


@pytest.mark.parametrize("fraction", [0.2, 0.4, 0.5, 0.75, 0.9])
def test_the_validation_share_is_the_fraction_asked_for(tmp_path: Path, fraction: float) -> None:
    root = folder_of(tmp_path / "data", ["alpha", "beta"], per_generator=25)  # 20 training images each
    data = ImageFolderDataModule(root, known=["alpha", "beta"], val_fraction=fraction)
    val = [e for e in data.entries("known_val") if e.generator == "alpha"]
    train = [e for e in data.entries("known_train") if e.generator == "alpha"]
    assert len(val) + len(train) == 20 and len(val) == round(20 * fraction)
    assert not {e.path for e in val} & {e.path for e in train}


def test_every_fifth_validation_image_is_unchanged_for_a_fifth(tmp_path: Path) -> None:
    root = folder_of(tmp_path / "data", ["alpha", "beta"], per_generator=25)
    data = ImageFolderDataModule(root, known=["alpha", "beta"], val_fraction=0.2)
    training = [f for i, f in enumerate(data.images("alpha")) if i % 5 != 4]
    val = [e.path for e in data.entries("known_val") if e.generator == "alpha"]
    assert val == [f for i, f in enumerate(training) if i % 5 == 0]  # the former rule's images


def test_a_link_loop_is_a_bad_image_skipped_on_request(
    private_paths: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = folder_of(private_paths / "data", ["alpha", "beta"])
    (root / "beta" / "loop.png").symlink_to("loop.png")
    args = ["run", "--dataset=imagefolder", *RUN]
    err = one_line([*args, f"--dataset_args={{path: {root}, known: [alpha, beta]}}"], capsys)
    assert "loop.png" in err and "symbolic links" in err
    assert main([*args, f"--dataset_args={{path: {root}, known: [alpha, beta], skip_bad: true}}"]) == 0


def test_osma_lists_read_past_a_byte_order_mark_and_a_link_loop(tmp_path: Path) -> None:
    png(tmp_path / "images" / "a.png", size=16)
    (tmp_path / "images" / "loop.png").symlink_to("loop.png")
    listing = tmp_path / "train.txt"
    listing.write_text("\ufeffimages/a.png\tg1\nimages/loop.png\tg2\n", encoding="utf-8")
    entries = read_annotations(listing, tmp_path)
    assert [e.path for e in entries] == [tmp_path / "images" / "a.png", tmp_path / "images" / "loop.png"]


def test_a_results_path_under_a_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("not a folder")
    monkeypatch.setenv("MODELPRINT_RESULTS", str(tmp_path / "afile" / "results.sqlite"))
    monkeypatch.setenv("MODELPRINT_CACHE", str(tmp_path / "cache"))
    root = folder_of(tmp_path / "data", ["alpha", "beta"])
    err = one_line(
        ["run", "--dataset=imagefolder", f"--dataset_args={{path: {root}, known: [alpha, beta]}}", *RUN],
        capsys,
    )
    assert "afile is a file, not a folder" in err


def test_damaged_json_in_the_store_is_named_by_check_and_board(
    private_paths: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = folder_of(private_paths / "data", ["alpha", "beta"])
    assert (
        main(["run", "--dataset=imagefolder", f"--dataset_args={{path: {root}, known: [alpha, beta]}}", *RUN])
        == 0
    )
    with sqlite3.connect(private_paths / "results.sqlite") as conn:
        conn.execute("UPDATE runs SET details_json = '{not json'")
    capsys.readouterr()
    assert main(["store", "check"]) != 0
    assert "details_json is not valid JSON" in capsys.readouterr().out
    err = one_line(["board", f"--out={private_paths / 'board'}"], capsys)
    assert "damaged record" in err and "store check" in err


def test_a_known_generator_too_small_for_a_test_image_is_named_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = folder_of(tmp_path / "data", ["alpha", "beta"])
    for extra in range(3, 6):
        (root / "alpha" / f"{extra}.png").unlink()
    data = ImageFolderDataModule(root, known=["alpha", "beta"])
    data.entries("known_test")
    data.entries("known_test")
    warned = [r.getMessage() for r in caplog.records if "fewer than 5" in r.getMessage()]
    assert len(warned) == 1 and "'alpha' has 3 image(s)" in warned[0]


@pytest.mark.parametrize("resolution", [0, -3, 2.5])
def test_a_resolution_that_is_not_a_positive_whole_number_is_one_line(
    private_paths: Path, capsys: pytest.CaptureFixture[str], resolution: float
) -> None:
    root = folder_of(private_paths / "data", ["alpha", "beta"])
    err = one_line(
        ["run", "--dataset=imagefolder", f"--dataset_args={{path: {root}, resolution: {resolution}}}", *RUN],
        capsys,
    )
    assert "resolution" in err


def test_a_cache_path_under_a_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("not a folder")
    monkeypatch.setenv("MODELPRINT_RESULTS", str(tmp_path / "results.sqlite"))
    monkeypatch.setenv("MODELPRINT_CACHE", str(tmp_path / "afile"))
    root = folder_of(tmp_path / "data", ["alpha", "beta"])
    err = one_line(["run", "--dataset=imagefolder", f"--dataset_args={{path: {root}}}", *RUN], capsys)
    assert "afile is a file, not a folder" in err
