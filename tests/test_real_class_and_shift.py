"""Real images as a known class, the semantic-shift split, and the data set's own record
(each generator's mean residual spectrum) - on the shipped zoo, through the runner."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from benchmarks.config import BenchmarkConfig
from benchmarks.data_records import generator_groups, residual_spectra
from benchmarks.feature_cache import FeatureCache
from benchmarks.protocols.open_set import counterpart_hits
from benchmarks.runner import run_benchmark
from benchmarks.split_integrity import check_split_integrity, data_set_hash
from core.errors import AbsentSplitError, ConfigError, DataError
from core.metrics.synthetic_quality import FingerprintDiversity, MeanResidualSpectrum
from datamodules.zoo.artifact import recorded_data_hash
from datamodules.zoo.datamodule import ARTIFACT_DIR, REAL_CLASS, load_split
from leaderboards.plots import plot_residual_spectra
from leaderboards.store import ResultsStore
from lightning_modules.base import Features
from tests.test_public_datasets import genimage_fixture

PARTS = ("train", "val", "test")


def image_keys(images: torch.Tensor) -> set[bytes]:
    return {image.numpy().tobytes() for image in images}


@pytest.fixture(scope="module")
def with_real() -> dict[str, object]:
    names = [f"known_{p}" for p in PARTS] + [f"real_{p}" for p in PARTS]
    names += ["unseen_seed", "unseen_dataset", "unseen_architecture"]
    return {name: load_split(name, include_real=True) for name in names}


def test_the_known_splits_hold_a_real_class_as_large_as_a_generator_drawn_from_the_real_split(
    with_real: dict,
) -> None:
    artifact = recorded_data_hash(ARTIFACT_DIR)
    for part in PARTS:
        known, real = with_real[f"known_{part}"], with_real[f"real_{part}"]
        generators_only = load_split(f"known_{part}")
        assert REAL_CLASS in known.generator_ids and REAL_CLASS not in generators_only.generator_ids
        counts = torch.bincount(known.labels)
        assert counts.min() == counts.max(), "the real class is as large as each generator"
        mine = known.images[known.labels == known.generator_ids.index(REAL_CLASS)]
        assert image_keys(mine) <= image_keys(real.images), f"real class of known_{part} from real_{part}"
        source_of = {
            image.numpy().tobytes(): int(label) for image, label in zip(real.images, real.labels, strict=True)
        }
        sources = {source_of[key] for key in image_keys(mine)}
        assert len(sources) == len(real.generator_ids), "drawn from every data set"
        assert known.data_hash != generators_only.data_hash, "its own content hash (caches, training keys)"
        assert known.source_hash == artifact
    check_split_integrity(with_real)  # the class is not a leak of the real splits
    assert data_set_hash(with_real) == artifact, "runs stay filed under the artifact's version"


def test_a_real_image_in_another_part_is_still_a_leak(with_real: dict) -> None:
    splits = dict(with_real)
    test = splits["real_test"]
    leaked = torch.cat([test.images, splits["known_train"].images[:1]])
    labels = torch.cat([test.labels, test.labels[:1]])
    splits["real_test"] = dataclasses.replace(test, images=leaked, labels=labels)
    with pytest.raises(DataError, match="two splits"):
        check_split_integrity(splits)


def test_the_semantic_shift_keeps_one_content_known_and_pairs_the_rest_with_their_counterparts() -> None:
    known = load_split("known_train", include_real=True, semantic_shift="digits")
    manifest = {row["generator_id"]: row for row in known.manifest}
    assert {manifest[g]["dataset"] for g in known.generator_ids if g != REAL_CLASS} == {"digits"}
    real_images = known.images[known.labels == known.generator_ids.index(REAL_CLASS)]
    digits = load_split("real_train")
    digits = digits.images[digits.labels == digits.generator_ids.index("real-digits")]
    assert image_keys(real_images) <= image_keys(digits), "one content: the real class is its images"
    shifted = load_split("semantic_shift", semantic_shift="digits")
    rows = {row["generator_id"]: row for row in shifted.manifest}
    assert shifted.counterparts is not None and len(shifted.counterparts) == len(shifted.generator_ids)
    for generator, counterpart in zip(shifted.generator_ids, shifted.counterparts, strict=True):
        assert rows[generator]["dataset"] != "digits" and counterpart in known.generator_ids
        assert manifest[counterpart]["architecture"] == rows[generator]["architecture"]
    assert {rows[g]["dataset"] for g in shifted.generator_ids} == {"photos", "faces", "shapes"}
    with pytest.raises(ConfigError, match="valid: \\['digits', 'photos'\\]"):
        load_split("known_train", semantic_shift="faces")
    with pytest.raises(AbsentSplitError, match="semantic_shift: digits"):
        load_split("semantic_shift")


def test_counterpart_hits_compare_each_image_with_its_generators_counterpart() -> None:
    labels, ids = torch.tensor([0, 0, 1, 1]), ("a-photos", "b-photos")
    unseen = Features("semantic_shift", torch.zeros(4, 2), labels, ids, ("a-digits", "b-digits"))
    hits = counterpart_hits(unseen, ("a-digits", "b-digits", "real"), torch.tensor([0, 1, 1, 2]))
    assert hits.tolist() == [True, False, True, False]


def test_the_mean_residual_spectrum_is_the_mean_of_the_images_spectra() -> None:
    from core.images import log_spectrum

    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    model = torch.tensor([0, 0, 1, 1, 1, 0])
    metric = MeanResidualSpectrum(3, 8)
    metric.update(images[:3], model[:3])
    metric.update(images[3:], model[3:])
    means = metric.compute()
    spectra = log_spectrum(images).double()
    assert torch.allclose(means[0], spectra[model == 0].mean(0)) and torch.allclose(
        means[1], spectra[model == 1].mean(0)
    )
    assert torch.isnan(means[2]).all(), "a model with no image has no mean"
    diversity = FingerprintDiversity(3, 8)
    diversity.update(images, model)
    assert float(diversity.compute()) == pytest.approx(
        float((means[0] - means[1]).pow(2).mean().sqrt()), rel=1e-9
    )


def test_the_data_record_lists_each_generator_once_with_real_sources_apart(with_real: dict) -> None:
    groups = generator_groups(with_real)
    assert REAL_CLASS not in groups, "the merged class is left to the real splits' per-data-set ids"
    assert {g for g, (group, _) in groups.items() if group == "real"} == set(
        with_real["real_train"].generator_ids
    )
    rows, spectra, diversity = residual_spectra(with_real)
    known = next(r for r in rows if r["group"] == "known")
    assert known["images"] == 300, "train, val and test images of a known generator together"
    assert spectra.shape == (len(rows), 32, 32) and diversity > 0


def test_runs_record_the_real_class_option_and_the_data_record_is_written_once(tmp_path: Path) -> None:
    store, cache = ResultsStore(tmp_path / "r.sqlite"), FeatureCache(tmp_path / "cache")
    base = dict(methods=["spectral"], protocols=["closed_set"], bootstrap_samples=0)
    run_benchmark(BenchmarkConfig(**base), store, cache)
    run_benchmark(BenchmarkConfig(**base, dataset_args={"include_real": False}), store, cache)
    runs = store.runs(protocol="closed_set")
    assert [json.loads(r["config_json"])["dataset_args"] for r in runs] == [
        {"include_real": "True"},
        {"include_real": "False"},
    ]
    assert len({r["config_hash"] for r in runs}) == 2 and len({r["data_hash"] for r in runs}) == 1
    with_class, without = (json.loads(r["details_json"])["generators"] for r in runs)
    assert REAL_CLASS in with_class and REAL_CLASS not in without
    data = store.runs(protocol="residual_spectra")
    assert len(data) == 2, "one record per option set (the same data hash)"
    run_benchmark(BenchmarkConfig(**base), store, cache)
    assert len(store.runs(protocol="residual_spectra")) == 2, "written once"
    assert [p.name for p in plot_residual_spectra(store, tmp_path)] == ["residual_spectra_zoo.png"]
    shown = store.figure_rows(protocol="closed_set")
    assert {r["config_hash"] for r in shown} == {runs[1]["config_hash"]}, "the configuration run last"


def test_a_semantic_shift_run_is_filed_apart_with_counterpart_accuracy(tmp_path: Path) -> None:
    store, cache = ResultsStore(tmp_path / "r.sqlite"), FeatureCache(tmp_path / "cache")
    cfg = BenchmarkConfig(
        methods=["spectral"],
        protocols=["open_set"],
        bootstrap_samples=0,
        dataset_args={"semantic_shift": "digits"},
        protocol_args={"open_set": {"subsets": ["semantic_shift"]}},
    )
    run_benchmark(cfg, store, cache)
    (run,) = store.runs(protocol="open_set")
    assert run["dataset"] == "zoo:semantic-shift-digits" and run["split"] == "semantic_shift"
    figures = {r["metric"]: r["value"] for r in store.figure_rows(protocol="open_set")}
    table = json.loads(run["details_json"])["per_generator"]
    shares = [row["counterpart_share"] * row["images"] for row in table.values()]
    assert figures["counterpart_accuracy"] == pytest.approx(
        sum(shares) / sum(r["images"] for r in table.values())
    )
    assert figures["counterpart_accuracy"] > 1 / 8, "above chance among 7 generators and real"


# -- public layouts: real images named by the user, a content column for the semantic shift ------


def public_split(name: str, dataset: str, **args: object):
    from datamodules import DATASETS

    dm = DATASETS.create(dataset, split=name, **args)
    dm.setup()
    return dm.split


def test_genimage_nature_folders_are_the_real_images_and_can_be_a_known_class(tmp_path: Path) -> None:
    genimage_fixture(tmp_path)
    args = {"root": str(tmp_path), "unseen_architecture": ["VQDM", "wukong"], "real": ["ADM", "BigGAN"]}
    splits = {
        name: public_split(name, "genimage", **args, include_real=True)
        for name in (
            "known_train",
            "known_val",
            "known_test",
            "real_train",
            "real_val",
            "real_test",
            "unseen_all",
        )
    }
    assert splits["known_train"].generator_ids == ("ADM", "BigGAN", "Midjourney", REAL_CLASS)
    assert splits["real_train"].generator_ids == ("real-ADM", "real-BigGAN")
    assert (len(splits["real_train"]), len(splits["real_val"]), len(splits["real_test"])) == (16, 4, 8)
    real_class = splits["known_test"].labels == splits["known_test"].generator_ids.index(REAL_CLASS)
    assert (
        int(real_class.sum()) == 8 and "nature" in splits["known_test"].origins[int(real_class.nonzero()[0])]
    )
    check_split_integrity(splits)
    assert REAL_CLASS not in public_split("known_train", "genimage", **args).generator_ids, "off by default"
    with pytest.raises(ConfigError, match="include_real: true needs the real images named"):
        public_split("known_train", "genimage", root=str(tmp_path), include_real=True)
    with pytest.raises(AbsentSplitError, match="no real images named"):
        public_split("real_test", "genimage", root=str(tmp_path))


def content_parquet(root: Path) -> dict[str, str]:
    """Rows of two generators and real images, each on two contents (cats, dogs)."""
    import datasets

    from tests.test_public_datasets import png

    files = {}
    for part, count in (("train", 10), ("test", 4)):
        rows: dict[str, list] = {"image": [], "generator": [], "content": []}
        for generator in ("ADM", "BigGAN", "real"):
            for content in ("cat", "dog"):
                for i in range(count):
                    source = png(root / "src" / f"{part}-{generator}-{content}-{i}.png")
                    rows["image"].append({"bytes": source.read_bytes(), "path": None})
                    rows["generator"].append(generator)
                    rows["content"].append(content)
        path = root / f"{part}.parquet"
        features = datasets.Features(
            {
                "image": datasets.Image(),
                "generator": datasets.Value("string"),
                "content": datasets.Value("string"),
            }
        )
        datasets.Dataset.from_dict(rows, features=features).to_parquet(str(path))
        files[part] = str(path)
    return files


def test_a_content_column_gives_the_semantic_shift_of_the_same_generators(tmp_path: Path) -> None:
    args = {
        "path": "parquet",
        "data_files": content_parquet(tmp_path),
        "real": ["real"],
        "content_column": "content",
        "semantic_shift": "cat",
    }
    known = public_split("known_test", "hf", **args)
    shifted = public_split("semantic_shift", "hf", **args)
    assert known.generator_ids == shifted.generator_ids == shifted.counterparts == ("ADM", "BigGAN")
    assert (len(known), len(shifted)) == (8, 8), "4 test rows per generator on each content"
    check_split_integrity({"known_test": known, "semantic_shift": shifted})
    with pytest.raises(ConfigError, match="semantic_shift needs content_column"):
        public_split("known_test", "hf", path="parquet", data_files=args["data_files"], semantic_shift="cat")
    store, cache = ResultsStore(tmp_path / "r.sqlite"), FeatureCache(tmp_path / "cache")
    cfg = BenchmarkConfig(
        methods=["spectral"],
        protocols=["open_set", "detection"],
        dataset="hf",
        dataset_args=args,
        bootstrap_samples=0,
    )
    run_benchmark(cfg, store, cache)
    assert {r["split"] for r in store.runs(protocol="open_set")} == {"semantic_shift"}
    assert {r["split"] for r in store.runs(protocol="detection")} == {"known_test", "semantic_shift"}
    assert store.figure_rows(protocol="open_set", metric="counterpart_accuracy")
