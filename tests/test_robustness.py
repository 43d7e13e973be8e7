"""The robustness track: perturbations as specified, protocol variants in the runner, the board."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import torch

import tests.fabricated  # noqa: F401 - registers the 'fabricated' data set
from benchmarks.commands.board import board_judgings
from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.plan import PlanError
from benchmarks.runner import run_benchmark
from datamodules.perturbations import PERTURBATIONS, PerturbationError, parse_perturbation, perturbed_split
from leaderboards.robustness import CLEAN, build_robustness_tables, plot_robustness
from leaderboards.store import ResultsStore
from leaderboards.tables import build_tables
from tests.fabricated import fabricated_split
from tests.test_runner import FAST


def photos(count: int = 6, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth random images with some texture: uint8, N x 3 x size x size."""
    gen = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(count, 3, size + 4, size + 4, generator=gen), 5, 1)
    texture = 0.15 * torch.rand(count, 3, size, size, generator=gen)
    return ((smooth + texture).clamp(0, 1) * 255).round().to(torch.uint8)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("jpg:75", "jpeg"),  # the unknown kind's error names the close match
        ("jpeg", "kind:strength"),
        ("jpeg:high", "not a number"),
        ("jpeg:0", "1..100"),
        ("jpeg:75.5", "1..100"),
        ("resize:0", "(0, 1]"),
        ("crop:1.5", "(0, 1]"),
        ("blur:0", "> 0"),
        ("noise:-1", ">= 0"),
        ("noise:nan", ">= 0"),
        ("delivery:0", "(0, 1]"),
        ("delivery:1.5", "(0, 1]"),
    ],
)
def test_a_bad_perturbation_spec_is_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(
        PerturbationError, match=message.replace("(", r"\(").replace("]", r"\]").replace(".", r"\.")
    ):
        parse_perturbation(spec)


@pytest.mark.parametrize("spec", ["jpeg:50", "resize:0.5", "blur:1", "noise:5", "crop:0.75", "delivery:1"])
def test_every_kind_keeps_shape_and_dtype_and_is_the_same_in_every_run(spec: str) -> None:
    images = photos()
    level = parse_perturbation(spec)
    out = level.apply(images, "known_test")
    assert out.dtype == torch.uint8 and out.shape == images.shape
    assert not torch.equal(out, images)  # it did something
    assert torch.equal(out, level.apply(images, "known_test"))  # seeded by spec and split only


def test_identity_strengths_leave_images_as_they_are() -> None:
    images = photos()
    for spec in ("noise:0", "resize:1", "crop:1"):
        assert torch.equal(parse_perturbation(spec).apply(images, "s"), images), spec
    for name in PERTURBATIONS.names():  # every kind says where its clean point lies
        kind = PERTURBATIONS.create(name)
        assert isinstance(kind.identity, float | int)


def test_stronger_levels_change_images_more() -> None:
    images = photos()

    def error(spec: str) -> float:
        return float((parse_perturbation(spec).apply(images, "s").float() - images.float()).abs().mean())

    for ladder in (
        ["jpeg:95", "jpeg:75", "jpeg:30"],
        ["resize:0.75", "resize:0.5", "resize:0.25"],
        ["blur:0.5", "blur:1", "blur:2"],
        ["noise:2", "noise:5", "noise:20"],
    ):
        errors = [error(s) for s in ladder]
        assert errors == sorted(errors) and errors[0] > 0, (ladder, errors)


def test_noise_has_the_asked_standard_deviation_and_depends_on_the_split() -> None:
    images = torch.full((20, 3, 32, 32), 128, dtype=torch.uint8)
    level = parse_perturbation("noise:10")
    diff = level.apply(images, "a").float() - 128
    assert abs(float(diff.std()) - 10) < 0.3 and abs(float(diff.mean())) < 0.3
    assert not torch.equal(level.apply(images, "a"), level.apply(images, "b"))


def test_blur_of_a_point_is_the_normalised_gaussian() -> None:
    image = torch.zeros(1, 1, 15, 15, dtype=torch.uint8)
    image[0, 0, 7, 7] = 200
    out = parse_perturbation("blur:1").apply(image, "s")
    taps = [math.exp(-(t**2) / 2) for t in range(-3, 4)]
    weights = [t / sum(taps) for t in taps]
    for dy, dx in ((0, 0), (0, 1), (1, 1), (0, 2)):  # separable: 200 * w(dy) * w(dx)
        assert int(out[0, 0, 7 + dy, 7 + dx]) == round(200 * weights[3 + dy] * weights[3 + dx])
    assert abs(int(out.sum()) - 200) <= 8  # mass kept, up to rounding


def test_crop_keeps_a_window_of_the_image_resized_back() -> None:
    image = (torch.arange(8) * 30).to(torch.uint8).expand(1, 1, 8, 8).clone()  # a ramp 0..210 along x
    out = parse_perturbation("crop:0.5").apply(image, "s")  # a 4 x 4 window, scaled x2
    assert out.shape == image.shape
    rows = out[0, 0].int()
    assert (rows.diff(dim=1) >= 0).all()  # still a ramp, stretched
    span = int(rows.max() - rows.min())
    assert 60 <= span <= 90  # four columns of the ramp (3 steps of 30), not all eight (210)


def test_jpeg_matches_a_pil_round_trip() -> None:
    import io

    import numpy as np
    from PIL import Image

    images = photos(count=1)
    buffer = io.BytesIO()
    Image.fromarray(images[0].permute(1, 2, 0).numpy()).save(buffer, format="JPEG", quality=60)
    expected = torch.from_numpy(np.array(Image.open(buffer).convert("RGB"))).permute(2, 0, 1)
    assert torch.equal(parse_perturbation("jpeg:60").apply(images, "s")[0], expected)


def test_a_perturbed_split_keeps_labels_and_gets_its_own_data_hash() -> None:
    split = fabricated_split("known_test")
    noisy = perturbed_split(split, parse_perturbation("noise:5"))
    assert torch.equal(noisy.labels, split.labels) and noisy.generator_ids == split.generator_ids
    assert noisy.data_hash != split.data_hash
    assert noisy.data_hash == perturbed_split(split, parse_perturbation("noise:5")).data_hash


def robustness_config(**kwargs: object) -> BenchmarkConfig:
    options = {
        "protocols": ["closed_set", "open_set", "zero_shot"],
        "protocol_args": {**FAST, "open_set": {"subsets": ["unseen_all"]}},
        **kwargs,
    }
    return BenchmarkConfig(methods=["spectral"], dataset="fabricated", bootstrap_samples=10, **options)


def test_each_level_is_a_protocol_variant_fitted_clean_and_tested_perturbed(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    cache = FeatureCache(tmp_path / "cache")
    summary = run_benchmark(robustness_config(perturbations=["none", "blur:2", "jpeg:90"]), store, cache)
    assert summary.ran == 9  # 3 protocols x (clean + 2 levels)
    protocols = {r["protocol"] for r in store.runs() if r["method"] != "data"}
    assert protocols == {
        f"{p}{suffix}"
        for p in ("closed_set", "open_set", "zero_shot")
        for suffix in ("", "@blur:2", "@jpeg:90")
    }
    accuracy = {r["protocol"]: r["value"] for r in store.figure_rows(metric="accuracy")}
    # the traces are high-frequency: blur erases them from the *test* images only
    assert accuracy["closed_set"] > 0.9 and accuracy["closed_set@blur:2"] < accuracy["closed_set"] - 0.3
    run = store.runs(protocol="closed_set@blur:2")[0]
    assert '"perturbation": "blur:2"' in run["config_json"] and run["data_hash"] == "fabricated-v1"
    clean = store.runs(protocol="closed_set")[0]
    assert "perturbation" not in clean["config_json"]  # clean cells keep their run keys
    # a second run finds every variant done
    again = run_benchmark(robustness_config(perturbations=["none", "blur:2", "jpeg:90"]), store, cache)
    assert again.ran == 0 and again.skipped == 9


def test_a_bad_level_fails_before_any_work(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    with pytest.raises(PlanError, match="jpeg"):
        run_benchmark(
            robustness_config(perturbations=["blur:1", "jpg:50"]), store, FeatureCache(tmp_path / "c")
        )
    assert store.runs() == []


def test_the_board_gets_robustness_tables_and_plots_apart_from_the_main_tables(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    cache = FeatureCache(tmp_path / "cache")
    run_benchmark(robustness_config(), store, cache)  # the clean benchmark first
    run_benchmark(robustness_config(perturbations=["noise:20", "noise:5", "blur:1"]), store, cache)
    assert all("@" not in t.protocol for t in build_tables(store))
    tables = {(t.protocol, t.value_metric): t for t in build_robustness_tables(store, board_judgings())}
    assert set(tables) == {
        ("closed_set", "accuracy"),
        ("open_set", "auroc"),
        ("zero_shot", "identification_accuracy"),
        ("zero_shot", "verification_auroc"),
    }
    closed = tables[("closed_set", "accuracy")]
    assert closed.metrics == [CLEAN, "blur:1", "noise:5", "noise:20"]  # kinds in order, mild to strong
    row = closed.rows[0]
    assert row.cells[CLEAN].value == store.figure_rows(protocol="closed_set", metric="accuracy")[0]["value"]
    assert row.cells["noise:20"].value <= row.cells["noise:5"].value + 0.05
    images = plot_robustness(build_robustness_tables(store, board_judgings()), tmp_path)
    assert {p.name for p in images} >= {"robustness_closed_set_known_test_accuracy.png"}
    assert all(p.stat().st_size > 5000 for p in images)


def test_cli_levels_run_and_a_bad_one_is_one_line(
    capsys: pytest.CaptureFixture[str], private_paths: Path
) -> None:
    from benchmarks.cli import main

    args = [
        "run",
        "--methods=[spectral]",
        "--dataset=fabricated",
        "--protocols=[closed_set]",
        "--bootstrap_samples=0",
    ]
    assert main([*args, "--perturbations=[jpeg:blurry]"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a number" in err[0]
    assert main([*args, "--perturbations=[none,crop:0.5]"]) == 0
    store = ResultsStore(private_paths / "results.sqlite")
    assert {r["protocol"] for r in store.runs() if r["method"] != "data"} == {
        "closed_set",
        "closed_set@crop:0.5",
    }


def test_perturbed_runs_of_an_older_checkpoint_leave_the_robustness_tables(tmp_path: Path) -> None:
    """A method retrained (new weights) shows no perturbed figure of its old weights."""
    from leaderboards.robustness import build_robustness_tables
    from leaderboards.store import Figure, ResultsStore, RunRecord

    store = ResultsStore(tmp_path / "r.sqlite")

    def write(protocol: str, weights: str, value: float) -> None:
        details = {"extractor": {"weights": weights}, "weights": "trained"}
        run = RunRecord(
            "m", protocol, "zoo", "known_test", 0, {"w": weights}, "d", "g", {}, "cpu", 1.0, details
        )
        store.write_run(run, [Figure("accuracy", value)])

    write("closed_set", "old", 0.9)
    write("closed_set@jpeg:75", "old", 0.5)
    assert len(build_robustness_tables(store, board_judgings())) == 1
    time.sleep(1.1)  # the store orders runs by their creation time, to the second
    write("closed_set", "new", 0.95)
    assert build_robustness_tables(store, board_judgings()) == [], (
        "the jpeg figure was made with the old weights"
    )


def test_the_clean_column_holds_the_seeds_that_were_perturbed(tmp_path: Path) -> None:
    """Seeds 1 and 2 without perturbed runs stay out of the clean figure a drop is read from."""
    from leaderboards.robustness import CLEAN, build_robustness_tables
    from leaderboards.store import Figure, ResultsStore, RunRecord

    store = ResultsStore(tmp_path / "r.sqlite")
    for protocol, seed, value in (
        ("closed_set", 0, 0.8),
        ("closed_set", 1, 0.9),
        ("closed_set@jpeg:75", 0, 0.6),
    ):
        run = RunRecord("m", protocol, "zoo", "known_test", seed, {}, "d", "g", {}, "cpu", 1.0, {})
        store.write_run(run, [Figure("accuracy", value)])
    ((row,),) = [table.rows for table in build_robustness_tables(store, board_judgings())]
    assert row.seeds == [0] and row.cells[CLEAN].value == 0.8 and row.cells["jpeg:75"].value == 0.6


def test_detection_under_a_perturbation_fits_on_clean_images_and_tests_on_perturbed_ones() -> None:
    from benchmarks.plan import Variant
    from benchmarks.protocols import PROTOCOLS
    from datamodules.perturbations import parse_perturbation

    variant = Variant(PROTOCOLS.create("detection"), parse_perturbation("jpeg:75"))
    assert all(
        variant.split_variant(s) is None for s in ("known_train", "known_val", "real_train", "real_val")
    )
    assert all(variant.split_variant(s) is not None for s in ("real_test", "known_test", "unseen_all"))


def test_the_clean_gallery_variant_keeps_references_clean_and_runs_only_when_named(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    cache = FeatureCache(tmp_path / "cache")
    both = ["zero_shot", "zero_shot_clean_gallery"]
    fast = {**FAST, "zero_shot_clean_gallery": FAST["zero_shot"]}
    config = robustness_config(perturbations=["none", "blur:2"], protocols=both, protocol_args=fast)
    assert run_benchmark(config, store, cache).ran == 4
    figures = {
        (r["protocol"], r["metric"]): r["value"] for r in store.figure_rows() if r["method"] == "spectral"
    }
    metric = "identification_accuracy"
    # clean: the same images on both sides, so the very same figures as zero_shot's
    assert figures[("zero_shot_clean_gallery", metric)] == figures[("zero_shot", metric)]
    # blurred queries matched against clean references are scored otherwise than all-blurred
    assert figures[("zero_shot_clean_gallery@blur:2", metric)] != figures[("zero_shot@blur:2", metric)]
    [run] = store.runs(protocol="zero_shot_clean_gallery@blur:2")
    assert '"gallery": "clean"' in run["config_json"]
    assert '"gallery"' not in store.runs(protocol="zero_shot")[0]["config_json"]  # keys as they were
    default = run_benchmark(robustness_config(protocols=None), ResultsStore(tmp_path / "d.sqlite"), cache)
    assert default.ran == 4  # closed set, open set, zero shot, detection: the variant is opt-in


def test_the_delivered_head_variant_refits_its_probe_on_delivered_copies_and_restores_the_clean_one(
    tmp_path: Path,
) -> None:
    cache = FeatureCache(tmp_path / "cache")
    # zero shot reads the head's standardisation: it must be the clean one's again too
    plain = ["closed_set", "zero_shot"]
    store = ResultsStore(tmp_path / "r.sqlite")
    config = robustness_config(
        perturbations=["none", "blur:2"], protocols=[*plain, "closed_set_delivered_head"], protocol_args=FAST
    )
    assert run_benchmark(config, store, cache).ran == 6
    accuracy = {r["protocol"]: r["value"] for r in store.figure_rows(metric="accuracy")}
    # the probe fitted on delivered copies too is another probe: its figures are its own
    assert accuracy["closed_set_delivered_head@blur:2"] != accuracy["closed_set@blur:2"]
    [run] = store.runs(protocol="closed_set_delivered_head@blur:2")
    details = json.loads(run["details_json"])
    assert details["delivered_head"]["perturbation"] == "delivery:1"
    known_train = fabricated_split("known_train")
    assert details["delivered_head"]["train_images"] == 2 * len(known_train)  # clean + delivered
    delivered = perturbed_split(known_train, parse_perturbation("delivery:1"))
    assert (delivered.images != known_train.images).flatten(1).any(1).float().mean() > 0.5
    # closed set and zero shot score alone what they scored beside the variant: the clean head
    # (probe, standardisation) was restored
    alone = ResultsStore(tmp_path / "alone.sqlite")
    run_benchmark(
        robustness_config(perturbations=["none", "blur:2"], protocols=plain, protocol_args=FAST), alone, cache
    )

    def figures(s: ResultsStore) -> dict[tuple[str, str], float]:
        return {
            (r["protocol"], r["metric"]): r["value"]
            for r in s.figure_rows()
            if "delivered" not in r["protocol"]
        }

    assert figures(alone) == figures(store)
    default_store = ResultsStore(tmp_path / "d.sqlite")
    run_benchmark(robustness_config(protocols=None), default_store, cache)
    assert "closed_set_delivered_head" not in {r["protocol"] for r in default_store.runs()}  # opt-in


def test_a_post_feature_argument_is_not_a_different_fit() -> None:
    """A closed-set run is the same fit whichever zero-shot embedding the method's YAML chooses,
    so its perturbed runs stay beside the clean one; any other argument is a different fit, and
    for zero shot, whose figures read the embedding, so is the embedding."""
    import json

    from leaderboards.robustness import fitted_configuration

    def fit(method_args: dict, protocol: str, reads_embedding: bool = False) -> str:
        config = {"method": "m", "method_args": method_args, "protocol": protocol}
        return fitted_configuration(json.dumps(config), reads_embedding)

    raw = fit({}, "closed_set@jpeg:75")
    assert fit({"zero_shot_embedding": "standardised"}, "closed_set") == raw
    assert fit({"zero_shot_embedding": "standardised", "lr": 0.1}, "closed_set") != raw
    raw_zero_shot = fit({}, "zero_shot@jpeg:75", reads_embedding=True)
    assert fit({"zero_shot_embedding": "standardised"}, "zero_shot", reads_embedding=True) != raw_zero_shot
