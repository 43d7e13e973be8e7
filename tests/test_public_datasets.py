"""Public layouts (POSE/OSMA annotation files, GenImage folders) on fixtures made here, in the
exact layouts: counts, labels, splits, the decoding rule, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.runner import run_benchmark
from core.errors import AbsentSplitError, DataError
from datamodules import DATASETS
from datamodules.public.images import BadImageError, read_image
from datamodules.public.osma import AnnotationError
from leaderboards.store import ResultsStore

RNG = np.random.default_rng(0)


def png(path: Path, size: int = 40, mode: str = "RGB", value: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    pixels = RNG.integers(0, 256, shape, dtype=np.uint8) if value is None else np.full(shape, value, np.uint8)
    Image.fromarray(pixels, mode="RGB" if mode == "RGB" else "L").save(path)
    return path


def osma_fixture(root: Path, per_generator: int = 4) -> Path:
    """annotations/{train,val,test_known,test_unknown_*}.txt with paths relative to root."""
    files = {
        "train.txt": ["0", "1", "2"],
        "val.txt": ["0", "1", "2"],
        "test_known.txt": ["0", "1", "2"],
        "test_unknown_seed.txt": ["3"],
        "test_unknown_architecture.txt": ["4"],
        "test_unknown_dataset.txt": ["5", "6"],
    }
    ann = root / "annotations"
    ann.mkdir(parents=True)
    for name, labels in files.items():
        lines = []
        for label in labels:
            for i in range(per_generator):
                rel = f"images/{name[:-4]}/{label}/{i}.png"
                png(root / rel)
                lines.append(f"{rel}\t{label}")
        (ann / name).write_text("# path<TAB>label\n" + "\n".join(lines) + "\n\n")
    return ann


def osma(root: Path, split: str, **kwargs: object):
    dm = DATASETS.create("osma", split=split, annotations=str(root / "annotations"), root=str(root), **kwargs)
    dm.setup()
    return dm.split


def test_osma_splits_counts_and_shared_labels(tmp_path: Path) -> None:
    osma_fixture(tmp_path)
    train, val, test = (osma(tmp_path, s) for s in ("known_train", "known_val", "known_test"))
    assert len(train) == len(val) == len(test) == 12
    assert train.generator_ids == val.generator_ids == test.generator_ids == ("0", "1", "2")
    assert train.images.shape == (12, 3, 32, 32) and train.images.dtype.is_floating_point is False
    unseen = osma(tmp_path, "unseen_all")
    assert unseen.generator_ids == ("3", "4", "5", "6") and len(unseen) == 16
    assert osma(tmp_path, "unseen_dataset").generator_ids == ("5", "6")
    assert train.data_hash != val.data_hash and train.data_hash == osma(tmp_path, "known_train").data_hash


def test_a_malformed_annotation_line_names_file_and_line(tmp_path: Path) -> None:
    ann = osma_fixture(tmp_path)
    (ann / "val.txt").write_text("images/val/0/0.png\t0\nimages/val/0/1.png 0\n")
    with pytest.raises(AnnotationError, match=r"val.txt:2: expected 'path<TAB>label'"):
        osma(tmp_path, "known_val")
    (ann / "test_known.txt").unlink()
    with pytest.raises(AnnotationError, match=r"test_known\.txt: annotation file not found"):
        osma(tmp_path, "known_test")


def test_missing_corrupt_and_truncated_images_fail_clearly_or_are_skipped_and_counted(tmp_path: Path) -> None:
    ann = osma_fixture(tmp_path)
    good = (tmp_path / "images/test_known/0/0.png").read_bytes()
    (tmp_path / "images/test_known/0/1.png").write_bytes(b"not an image at all")
    (tmp_path / "images/test_known/1/2.png").write_bytes(good[: len(good) // 2])  # truncated
    (tmp_path / "images/test_known/2/3.png").unlink()
    with pytest.raises(BadImageError, match=r"test_known.txt:\d+: .*(cannot decode|no such file)"):
        osma(tmp_path, "known_test")
    split = osma(tmp_path, "known_test", skip_bad=True)
    assert len(split) == 9 and len(split.skipped) == 3
    assert any("no such file" in s for s in split.skipped) and any(
        "cannot decode" in s for s in split.skipped
    )

    store = ResultsStore(tmp_path / "r.sqlite")
    args = {"annotations": str(ann), "root": str(tmp_path), "skip_bad": True}
    cfg = BenchmarkConfig(
        methods=["spectral"], protocols=["closed_set"], dataset="osma", dataset_args=args, bootstrap_samples=0
    )
    run_benchmark(cfg, store, FeatureCache(tmp_path / "cache"))  # nothing crashes mid-run
    (run,) = store.runs(method="spectral")
    details = json.loads(run["details_json"])
    assert details["skipped_images"] == {"known_test": 3} and len(details["skipped_files"]["known_test"]) == 3


def genimage_fixture(root: Path, val_images: int = 4) -> None:
    for generator in ("ADM", "BigGAN", "Midjourney", "VQDM", "wukong"):
        for part, count in (("train", 10), ("val", val_images)):
            for i in range(count):
                png(root / generator / part / "ai" / f"{i:03d}.png")
                png(root / generator / part / "nature" / f"n{i:03d}.png")


def genimage(root: Path, split: str, **kwargs: object):
    dm = DATASETS.create("genimage", split=split, root=str(root), **kwargs)
    dm.setup()
    return dm.split


def test_genimage_folders_split_by_generator(tmp_path: Path) -> None:
    genimage_fixture(tmp_path)
    groups = {"unseen_architecture": ["VQDM"], "unseen_dataset": ["wukong"]}
    train, val, test = (genimage(tmp_path, s, **groups) for s in ("known_train", "known_val", "known_test"))
    assert train.generator_ids == ("ADM", "BigGAN", "Midjourney") == test.generator_ids
    assert (len(train), len(val), len(test)) == (24, 6, 12)  # 10 train/ai -> 8 + 2 (val_fraction 0.2)
    assert genimage(tmp_path, "unseen_all", **groups).generator_ids == ("VQDM", "wukong")
    with pytest.raises(AbsentSplitError, match="no generators named for unseen_seed"):
        genimage(tmp_path, "unseen_seed", **groups)  # absent, not empty: the runner skips it


def test_genimage_errors_name_the_folder(tmp_path: Path) -> None:
    genimage_fixture(tmp_path)
    for f in (tmp_path / "BigGAN" / "val" / "ai").iterdir():
        f.unlink()
    with pytest.raises(ValueError, match=r"BigGAN/val/ai: no images in this generator folder"):
        genimage(tmp_path, "known_test")
    with pytest.raises(DataError, match=r"no generator folder for \['SDXL'\]"):
        genimage(tmp_path, "known_test", unseen_seed=["SDXL"])


def test_every_mode_becomes_rgb_by_the_documented_rule(tmp_path: Path) -> None:
    grey = png(tmp_path / "grey.png", mode="L", value=200)
    assert (read_image(str(grey), 32) == 200).all()
    rgba = tmp_path / "rgba.png"
    Image.new("RGBA", (40, 40), (255, 10, 10, 0)).save(rgba)  # fully transparent -> black
    assert (read_image(str(rgba), 32) == 0).all()
    sixteen = tmp_path / "sixteen.png"
    Image.fromarray(np.full((40, 40), 65535, np.uint16)).save(sixteen)
    assert Image.open(sixteen).mode.startswith("I")
    assert (read_image(str(sixteen), 32) == 255).all()
    palette = tmp_path / "palette.png"
    Image.new("RGB", (40, 40), (0, 128, 255)).convert("P", palette=Image.Palette.ADAPTIVE).save(palette)
    assert tuple(read_image(str(palette), 32)[:, 0, 0]) == (0, 128, 255)
    small = png(tmp_path / "small.png", size=20)
    with pytest.raises(BadImageError, match="20x20 is smaller than the 32x32 crop"):
        read_image(str(small), 32)
    assert read_image(str(small), 32, "resize").shape == (3, 32, 32)


def hf_fixture(root: Path, test_images: int = 4) -> dict:
    """Tiny-GenImage-like parquet files: image (encoded PNG) and generator (a ClassLabel)."""
    import datasets

    names = ["ADM", "BigGAN", "VQDM", "wukong"]
    features = datasets.Features({"image": datasets.Image(), "generator": datasets.ClassLabel(names=names)})
    files = {}
    for part, count in (("train", 10), ("test", test_images)):
        rows = {"image": [], "generator": []}
        for label in range(len(names)):
            for i in range(count):
                rows["image"].append(
                    {"bytes": png(root / "src" / f"{part}{label}{i}.png").read_bytes(), "path": None}
                )
                rows["generator"].append(label)
        path = root / f"{part}.parquet"
        datasets.Dataset.from_dict(rows, features=features).to_parquet(str(path))
        files[part] = str(path)
    return files


def test_hugging_face_parquet_with_a_class_label_generator_column(tmp_path: Path) -> None:
    files = hf_fixture(tmp_path)
    groups = {"unseen_architecture": ["VQDM"], "unseen_dataset": ["wukong"]}
    args = {"path": "parquet", "data_files": files, **groups}

    def split(name: str, **extra: object):
        dm = DATASETS.create("hf", split=name, **args, **extra)
        dm.setup()
        return dm.split

    train, val, test = split("known_train"), split("known_val"), split("known_test")
    assert train.generator_ids == val.generator_ids == test.generator_ids == ("ADM", "BigGAN")
    assert (len(train), len(val), len(test)) == (16, 4, 8)
    assert split("unseen_all").generator_ids == ("VQDM", "wukong")
    with pytest.raises(DataError, match="no column 'model'"):
        split("known_test", generator_column="model")

    import datasets  # the same data saved with save_to_disk: a local directory

    saved = tmp_path / "saved"
    datasets.DatasetDict({k: datasets.Dataset.from_parquet(v) for k, v in files.items()}).save_to_disk(
        str(saved)
    )
    dm = DATASETS.create("hf", split="known_test", path=str(saved), **groups)
    dm.setup()
    assert dm.split.generator_ids == ("ADM", "BigGAN") and len(dm.split) == 8
