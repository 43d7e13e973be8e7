"""The robust ablation: candidates and factorial variants, each on a selection split and the
reported one, clean and delivered; the board's selection and main-effects tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from benchmarks.commands.board import board_judgings
from benchmarks.studies import ROBUST_ABLATION_PROTOCOL as PROTOCOL
from benchmarks.studies import RobustAblationStudy, load_ablation, run_ablation
from core.errors import ConfigError
from leaderboards.robustness import build_robustness_tables
from leaderboards.store import ResultsStore
from leaderboards.tables import SELECTION_COLUMN, main_effects_tables, selection_tables
from tests.conftest import REPO_ROOT

TINY = Path(__file__).parent / "configs" / "tiny_extractor.yaml"


def study_file(tmp_path: Path) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "kind": "robust",
                "training_config": str(TINY),
                "image_budget": 24,
                "factors": {"augmentation": {"on": {"data": {"delivery": True}}}},
                "candidates": {"tiny": str(TINY)},
                "perturbations": ["jpeg:75"],
                "zero_shot": {
                    "gallery_per_model": 5,
                    "episodes": 2,
                    "pairs_per_episode": 50,
                    "validation_pairs": 50,
                },
                "bootstrap_samples": 5,
            }
        )
    )
    return path


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 16 zero-shot evaluations of the whole zoo, each with its t-SNE map
def test_every_row_is_recorded_on_selection_and_reported_splits_clean_and_delivered(tmp_path: Path) -> None:
    study = load_ablation(study_file(tmp_path))
    assert isinstance(study, RobustAblationStudy) and study.selection_split == "known_val"
    store = ResultsStore(tmp_path / "r.sqlite")
    console = Console(quiet=True)
    with pytest.raises(ConfigError, match="valid: on, tiny"):
        run_ablation(study, store, tmp_path / "cache", console, ["webp"])
    written = run_ablation(study, store, tmp_path / "cache", console)
    # 2 splits x (clean + 1 level) x (raw + standardised) for the factorial row; the candidate
    # whitened too (on the selection split fitted in folds without the generators it tells
    # apart), and standardised in the same folds on the selection split, like for like
    assert len(written) == 2 * 2 * 2 + 2 * 2 * 3 + 2
    runs = store.runs()
    assert {(r["protocol"], r["split"]) for r in runs if r["method"].endswith("[tiny]")} == {
        (f"{PROTOCOL}{suffix}{level}", split)
        for suffix in ("", "_standardised", "_whitened", "_standardised_folds")
        for level in ("", "@jpeg:75")
        for split in ("known_val", "unseen_all")
        if split == "known_val" or suffix != "_standardised_folds"
    }
    folded = {
        r["split"]: json.loads(r["config_json"])["protocol"].get("fit_folds")
        for r in runs
        if r["protocol"] == f"{PROTOCOL}_whitened"
    }
    assert folded == {"known_val": 2, "unseen_all": None}
    assert all(
        json.loads(r["config_json"])["protocol"]["fit_folds"] == 2
        for r in runs
        if r["protocol"].startswith(f"{PROTOCOL}_standardised_folds")
    )
    assert run_ablation(study, store, tmp_path / "cache", console) == [], "recorded rows are skipped"

    [table, *_] = selection_tables(store)
    assert table.metrics[:2] == ["selection: identification", "reported: identification"]
    assert SELECTION_COLUMN in table.metrics and len(table.rows) == 2
    for row in table.rows:  # the choice weighs clean and delivered alike
        clean, delivered = (
            row.cells[f"selection: {c}"].value for c in ("identification", "delivered identification")
        )
        assert row.cells[SELECTION_COLUMN].value == pytest.approx((clean + delivered) / 2)
    assert table.rows[0].provenance["weights"] == "delivered = mean of jpeg:75"
    effects = {(t.protocol, t.split) for t in main_effects_tables(store)}
    assert {(f"{PROTOCOL}_main_effects", "known_val"), (f"{PROTOCOL}_main_effects", "unseen_all")} <= effects
    robust = {(t.protocol, t.split) for t in build_robustness_tables(store, board_judgings())}
    assert {(PROTOCOL, "known_val"), (PROTOCOL, "unseen_all")} <= robust


def test_a_study_reads_perturbation_levels_as_a_run_does() -> None:
    """Explicit levels, a peer's named set, duplicates once; clean first; a bad one in one line."""
    from benchmarks.plan import PlanError, perturbation_levels
    from benchmarks.studies import study_levels

    levels = study_levels(["jpeg:75", "genimage", "jpeg:75"])
    assert levels[0] is None and levels.count(None) == 1
    named = [level.spec for level in perturbation_levels(["genimage"]) if level is not None]
    assert [level.spec for level in levels[1:]] == ["jpeg:75", *(n for n in named if n != "jpeg:75")]
    assert study_levels([]) == [None]
    with pytest.raises(PlanError):
        study_levels(["jpeg:500"])


def test_a_probe_is_its_factorial_row_with_one_choice_changed() -> None:
    """The shipped study's probes: the row's training with the overrides on top, filed as a
    candidate; a probe naming no row of the design is a clear error."""
    from dataclasses import replace

    study = RobustAblationStudy.from_yaml(REPO_ROOT / "configs/extractor/ablation_robust.yaml")
    variants = {v.name: v for v in study.study_variants()}
    row = variants["synthetic_fingerprint[on,fixed,224]"].training
    probe = variants["synthetic_fingerprint[input_image_toneless]"]
    net = {**row.net, "input_transform": "image", "pixels_standardise": True}
    assert probe.training == replace(row, net=net) and probe.details == {"candidate": "input_image_toneless"}
    study.probes = {"lost": {"row": {"augmentation": "on", "sampling": "fixed", "models": "9"}}}
    with pytest.raises(ConfigError, match="probe 'lost': no factorial row"):
        study.study_variants()
