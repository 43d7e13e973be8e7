"""Peers' degradation levels by name: GenImage's and ImageAttributionBench's six levels,
AI-GenBench's evaluation chain, and the robustness tables that label them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import tests.fabricated  # noqa: F401 - registers the 'fabricated' data set
from benchmarks.commands.board import board_judgings
from benchmarks.feature_cache import FeatureCache
from benchmarks.plan import PlanError, perturbation_levels
from benchmarks.runner import run_benchmark
from datamodules.perturbations import (
    PERTURBATION_PRESETS,
    PerturbationError,
    expand_presets,
    parse_perturbation,
    peer_labels,
)
from leaderboards.robustness import CLEAN, build_robustness_tables, plot_robustness
from leaderboards.store import ResultsStore
from tests.test_robustness import photos, robustness_config


def specs(levels: list) -> list[str | None]:
    return [None if level is None else level.spec for level in levels]


def test_genimage_and_imageattributionbench_are_their_six_levels() -> None:
    # GenImage Table 5: LR (112) / LR (64) of 224 px, JPEG q=65 / 30, blur sigma 3 / 5;
    # ImageAttributionBench's get_degraded_img levels 1-6: nearest x0.5 / x0.25, the rest alike
    assert specs(perturbation_levels(["genimage"])) == [
        "nearest:0.5",
        "nearest:0.2857",
        "jpeg:65",
        "jpeg:30",
        "blur:3",
        "blur:5",
    ]
    assert specs(perturbation_levels("imageattributionbench")) == [
        "nearest:0.5",
        "nearest:0.25",
        "jpeg:65",
        "jpeg:30",
        "blur:3",
        "blur:5",
    ]
    # beside explicit levels and the clean point; a level named twice runs once
    assert specs(perturbation_levels(["none", "GenImage", "jpeg:65", "webp:50"]))[:2] == [None, "nearest:0.5"]
    assert len(perturbation_levels(["none", "genimage", "jpeg:65", "webp:50"])) == 8
    assert expand_presets(["aigenbench"]) == ["aigenbench:1", "jpeg:50", "noise:19.125", "crop:0.7071"]


def test_a_misspelt_peer_is_one_clear_error() -> None:
    with pytest.raises(PlanError, match=r"peers: .*genimage"):
        perturbation_levels(["genimag"])


def test_nearest_matches_pils_nearest_down_and_up() -> None:
    """ImageAttributionBench degrades with PIL: resize(int(side * s), NEAREST), then back."""
    images = photos(count=2, size=30)
    for scale in (0.5, 0.25, 0.2857):
        out = parse_perturbation(f"nearest:{scale}").apply(images, "known_test")
        for image, got in zip(images, out, strict=True):
            pil = Image.fromarray(image.permute(1, 2, 0).numpy())
            small = pil.resize((int(30 * scale), int(30 * scale)), Image.NEAREST)
            expected = np.asarray(small.resize((30, 30), Image.NEAREST))
            assert np.array_equal(got.permute(1, 2, 0).numpy(), expected), scale


def test_the_aigenbench_chain_is_seeded_keeps_shape_and_degrades_on_average() -> None:
    images = photos(count=40)
    level = parse_perturbation("aigenbench:1")
    out = level.apply(images, "known_test")
    assert out.shape == images.shape and out.dtype == torch.uint8
    assert torch.equal(out, level.apply(images, "known_test"))  # the same images in every run
    changed = (out != images).flatten(1).any(1)
    # each image is left alone with probability 0.9 * 0.5 * 0.7 * 0.8 * 0.75 * 0.9 ~ 0.17
    assert 0.6 < changed.float().mean() < 1.0
    half = parse_perturbation("aigenbench:0.5").apply(images, "known_test")
    assert (half != images).flatten(1).any(1).float().mean() < changed.float().mean()
    with pytest.raises(PerturbationError, match="probability scale"):
        parse_perturbation("aigenbench:2")


def test_labels_need_a_peers_full_set() -> None:
    genimage = PERTURBATION_PRESETS["genimage"].specs()
    labels = peer_labels([*genimage, "noise:5"])
    assert labels["nearest:0.2857"] == "GenImage LR (64)"
    assert "noise:5" not in labels
    both = peer_labels([*genimage, "nearest:0.25"])  # ImageAttributionBench's set is complete too
    assert both["jpeg:65"] == "GenImage JPEG (q=65); ImageAttributionBench level 3"
    assert peer_labels(["jpeg:50", "jpeg:75"]) == {}  # the published board's levels stay as they are


def test_the_board_heads_a_peers_columns_with_its_headings(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    cache = FeatureCache(tmp_path / "cache")
    closed = {"protocols": ["closed_set"], "protocol_args": {}}
    run_benchmark(robustness_config(**closed), store, cache)
    run_benchmark(robustness_config(**closed, perturbations="genimage"), store, cache)
    run_benchmark(robustness_config(**closed, perturbations=["noise:5"]), store, cache)
    (table,) = build_robustness_tables(store, board_judgings())
    assert table.metrics == [  # kinds alphabetical, each mild to strong
        CLEAN,
        "blur:3 (GenImage Blur (σ=3))",
        "blur:5 (GenImage Blur (σ=5))",
        "jpeg:65 (GenImage JPEG (q=65))",
        "jpeg:30 (GenImage JPEG (q=30))",
        "nearest:0.5 (GenImage LR (112))",
        "nearest:0.2857 (GenImage LR (64))",
        "noise:5",
    ]
    assert all(len(row.cells) == len(table.metrics) for row in table.rows)
    (image,) = plot_robustness([table], tmp_path)
    assert image.stat().st_size > 5000
