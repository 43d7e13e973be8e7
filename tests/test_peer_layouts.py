"""Peers' data layouts by name, each on a miniature built here in the layout its public code
reads: ImageAttributionBench's semantic folders, DRCT-2M's COCO parts, Synthbuster's generator
folders, AI-GenBench's and Community Forensics' Hugging Face columns."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ConfigError, DataError
from datamodules import DATASETS
from datamodules.peers.aigenbench import TIMELINE

RNG = np.random.default_rng(0)


def png(path: Path, width: int = 32, height: int = 32) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def png_bytes(width: int = 32, height: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def split_of(name: str, split: str, **args: object):
    dm = DATASETS.create(name, split=split, **args)
    dm.setup()
    return dm.split


# ImageAttributionBench: root/<generator>/<semantic folder>/<name>_p<prompt>_i<index>.png


def iab_fixture(root: Path) -> None:
    for generator in ("4o", "grok3", "mid-5.2"):
        size = (132, 82) if generator == "grok3" else (32, 32)  # grok's watermark is 100 x 50
        for folder in ("AnimalFace/cat", "Scene/bedroom", "HumanFace/FFHQ"):
            for prompt in range(5):
                png(root / generator / folder / f"img_p{prompt}_i0.png", *size)
            png(root / generator / folder / "img_p1000_i0.png", *size)  # prompt >= 1000: left out
            png(root / generator / folder / "img_p3_i3.png", *size)  # index 3: Midjourney's only
            png(root / generator / folder / "notes.jpg", *size)  # generated images are PNGs
    for folder in ("AnimalFace/cat", "Scene/bedroom", "HumanFace/FFHQ"):
        for i in range(5):
            png(root / "real" / folder / f"{i}.jpg")
    png(root / "not-a-generator" / "x.png")  # a folder the benchmark's code does not read


def test_imageattributionbench_generators_real_class_and_file_rule(tmp_path: Path) -> None:
    iab_fixture(tmp_path)
    args = {"root": str(tmp_path)}
    test = split_of("imageattributionbench", "known_test", **args)
    assert test.generator_ids == ("4o", "grok3", "mid-5.2", "real")  # real is the 23rd class
    train = split_of("imageattributionbench", "known_train", **args)
    counts = {g: int((train.labels == i).sum()) for i, g in enumerate(train.generator_ids)}
    # 5 kept per semantic (6 for Midjourney: index 3 too), 3 semantics; every 5th to test, 1/5 to val
    assert counts == {"4o": 9, "grok3": 9, "mid-5.2": 12, "real": 9}
    dm = DATASETS.create("imageattributionbench", split="known_test", **args)
    grok = next(e for e in dm.entries("known_test") if e.generator == "grok3")
    assert Image.open(io.BytesIO(grok.read())).size == (32, 32)  # watermark cut off
    unseen = split_of("imageattributionbench", "unseen_architecture", unseen_architecture=["4o"], **args)
    assert unseen.generator_ids == ("4o",) and len(unseen) == 15


def test_imageattributionbench_semantic_task_fits_on_one_subclass(tmp_path: Path) -> None:
    iab_fixture(tmp_path)
    args = {"root": str(tmp_path), "semantic_task": 1}  # fit on cat, test on the others
    dm = DATASETS.create("imageattributionbench", split="known_train", **args)
    dm.setup()
    semantics = {dm._semantic[e.path] for e in dm.entries("known_train")}
    assert semantics == {"cat"}
    shift = split_of("imageattributionbench", "semantic_shift", **args)
    assert shift.generator_ids == ("4o", "grok3", "mid-5.2", "real")
    assert shift.counterparts == shift.generator_ids and len(shift) == 2 * (5 + 5 + 6 + 5)
    with pytest.raises(ConfigError, match="tasks are"):
        DATASETS.create("imageattributionbench", split="known_test", root=str(tmp_path), semantic_task=4)


def test_a_folder_without_the_layout_names_what_was_expected(tmp_path: Path) -> None:
    png(tmp_path / "ADM" / "0.png")
    for name, args in (
        ("imageattributionbench", {"root": str(tmp_path)}),
        ("drct", {"root": str(tmp_path)}),
        ("synthbuster", {"path": str(tmp_path)}),
    ):
        with pytest.raises(DataError, match=r"not the .* layout: none of its generator folders"):
            DATASETS.create(name, split="known_test", **args)


def test_a_bad_layout_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.cli import main

    png(tmp_path / "ADM" / "0.png")
    code = main(["run", "--methods=[spectral]", "--dataset=drct", f"--dataset_args={{root: {tmp_path}}}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "stable-diffusion-v1-4" in err[0]


# DRCT-2M: root/<generator>/{train2017,val2017}/, MSCOCO in real_root/{train2017,val2017}/


def test_drct_parts_real_coco_and_unseen_generators(tmp_path: Path) -> None:
    root, coco = tmp_path / "AIGC_MSCOCO", tmp_path / "MSCOCO"
    for generator in ("stable-diffusion-v1-4", "sd-turbo", "lcm-lora-sdxl"):
        for part, count in (("train2017", 10), ("val2017", 3)):
            for i in range(count):
                png(root / generator / part / f"{i:012d}.png")
    for part, count in (("train2017", 10), ("val2017", 3)):
        for i in range(count):
            png(coco / part / f"{i:012d}.jpg")
    args = {"root": str(root), "real_root": str(coco), "unseen_architecture": ["lcm-lora-sdxl"]}
    test = split_of("drct", "known_test", **args)
    assert test.generator_ids == ("real", "sd-turbo", "stable-diffusion-v1-4") and len(test) == 9
    assert len(split_of("drct", "known_train", **args)) == 3 * 8  # val2017 is the test; 1/5 to val
    unseen = split_of("drct", "unseen_all", **args)
    assert unseen.generator_ids == ("lcm-lora-sdxl",) and len(unseen) == 3
    assert len(split_of("drct", "real_test", **args)) == 3
    no_real = split_of("drct", "known_test", root=str(root))  # without MSCOCO: generators only
    assert "real" not in no_real.generator_ids
    (root / "sd-turbo" / "val2017").rename(root / "sd-turbo" / "test")
    with pytest.raises(DataError, match=r"sd-turbo/val2017: no such folder"):
        split_of("drct", "known_test", **args)


# Synthbuster: root/<generator>/*.png and prompts.csv; RAISE-1k put beside them


def test_synthbuster_is_unseen_generators_with_raise_as_real(tmp_path: Path) -> None:
    for generator in ("dalle2", "glide", "stable-diffusion-xl"):
        for i in range(5):
            png(tmp_path / generator / f"r{i:03d}ab.png")
    for i in range(5):
        png(tmp_path / "raise-1k" / f"r{i:03d}ab.png")
    (tmp_path / "prompts.csv").write_text("image name (matching Raise-1k),Prompt\nr000ab,a street\n")
    args = {"path": str(tmp_path)}
    unseen = split_of("synthbuster", "unseen_all", **args)
    assert unseen.generator_ids == ("dalle2", "glide", "stable-diffusion-xl") and len(unseen) == 15
    assert len(split_of("synthbuster", "real_test", **args)) == 1  # every 5th RAISE image
    known = split_of("synthbuster", "known_test", known=["dalle2"], **args)
    assert known.generator_ids == ("dalle2",)


# AI-GenBench: a DatasetDict train / validation; image, generator ("" for real), label


def test_aigenbench_windows_follow_the_timeline(tmp_path: Path) -> None:
    import datasets

    generators = list(TIMELINE)[:9]
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "generator": datasets.Value("large_string"),
            "label": datasets.ClassLabel(names=["real", "fake"]),
        }
    )

    def part(count: int) -> datasets.Dataset:
        rows = {"image": [], "generator": [], "label": []}
        for generator in ["", *reversed(generators)]:  # row order is not the timeline's
            for _ in range(count):
                rows["image"].append({"bytes": png_bytes(), "path": None})
                rows["generator"].append(generator)
                rows["label"].append(0 if generator == "" else 1)
        return datasets.Dataset.from_dict(rows, features=features)

    saved = tmp_path / "ai-genbench"
    datasets.DatasetDict({"train": part(5), "validation": part(2)}).save_to_disk(str(saved))
    args = {"path": str(saved), "window": 1}
    test = split_of("aigenbench", "known_test", **args)
    assert test.generator_ids == tuple(sorted([*generators[:4], "real"])) and len(test) == 10
    future = split_of("aigenbench", "unseen_architecture", **args)
    assert future.generator_ids == tuple(sorted(generators[4:8])) and len(future) == 8
    assert split_of("aigenbench", "unseen_dataset", **args).generator_ids == (generators[8],)
    everything = split_of("aigenbench", "known_test", path=str(saved))
    assert len(everything.generator_ids) == 10  # no window: all nine and real are known
    with pytest.raises(DataError, match="leaves no generator to come"):
        split_of("aigenbench", "known_test", path=str(saved), window=3)


# Community Forensics: image_data, label (0 real), model_name; splits Systematic+Manual, PublicEval


def test_communityforensics_columns_real_rows_and_held_out_generators(tmp_path: Path) -> None:
    import datasets

    def part(models: list[str]) -> str:
        rows = {"image_data": [], "label": [], "model_name": []}
        for model in models:
            for _ in range(5):
                rows["image_data"].append(png_bytes())
                rows["label"].append(0 if model.startswith("coco") else 1)
                rows["model_name"].append(model)
        return rows

    files = {}
    for name, models in (
        ("Systematic", ["runwayml/sd-v1-5", "coco-real"]),
        ("Manual", ["dall-e-3", "coco-real"]),
        ("PublicEval", ["runwayml/sd-v1-5", "dall-e-3", "imagen-3", "coco-real"]),
    ):
        path = tmp_path / f"{name}.parquet"
        datasets.Dataset.from_dict(part(models)).to_parquet(str(path))
        files[name] = str(path)
    args = {"path": "parquet", "data_files": files}
    train = split_of("communityforensics", "known_train", **args)
    assert train.generator_ids == ("dall-e-3", "real", "runwayml/sd-v1-5")  # coco rows are the real class
    unseen = split_of("communityforensics", "unseen_all", **args)
    assert unseen.generator_ids == ("imagen-3",) and len(unseen) == 5


def test_a_run_on_a_peer_layout_files_its_figures_under_the_folder(tmp_path: Path) -> None:
    from benchmarks.config import BenchmarkConfig
    from benchmarks.feature_cache import FeatureCache
    from benchmarks.runner import run_benchmark
    from leaderboards.store import ResultsStore

    iab_fixture(tmp_path / "iab")
    store = ResultsStore(tmp_path / "r.sqlite")
    cfg = BenchmarkConfig(
        methods=["spectral"],
        protocols=["closed_set"],
        dataset="imageattributionbench",
        dataset_args={"root": str(tmp_path / "iab")},
        bootstrap_samples=0,
    )
    assert run_benchmark(cfg, store, FeatureCache(tmp_path / "cache")).ran == 1
    (run,) = store.runs(protocol="closed_set")
    assert run["dataset"] == "imageattributionbench:iab"  # the loader and the folder
