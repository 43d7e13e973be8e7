"""The scaling study trains each variant, evaluates it zero shot on the zoo, records it once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rich.console import Console

from benchmarks.studies import SCALING_PROTOCOL as PROTOCOL
from benchmarks.studies import ScalingStudy, run_scaling, variant_name
from leaderboards.plots import plot_scaling
from leaderboards.store import ResultsStore

TINY = Path(__file__).parent / "configs" / "tiny_extractor.yaml"


@pytest.mark.slow
def test_variants_are_trained_evaluated_recorded_and_plotted_once(tmp_path: Path) -> None:
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        yaml.safe_dump(
            {
                "training_config": str(TINY),
                "image_budget": 32,
                "images_per_group": 2,
                "models_per_batch": 4,
                "variants": [
                    {"num_models": 4},
                    {"num_models": 16},
                    {"num_models": 4, "space": "paper_nearest_only"},
                ],
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
    study = ScalingStudy.from_yaml(study_file)
    cfg = study.variant_config(16, "paper")
    assert cfg.data["images_per_model"] == 2 and cfg.image_budget == 32 and cfg.data["val_fraction"] == 0
    store = ResultsStore(tmp_path / "r.sqlite")
    console = Console(quiet=True)
    written = run_scaling(study, store, tmp_path / "cache", console)
    assert len(written) == 6, "each variant recorded raw and standardised"
    rows = store.figure_rows(protocol=PROTOCOL)
    assert {r["method"] for r in rows} == {
        variant_name("paper", 4),
        variant_name("paper", 16),
        variant_name("paper_nearest_only", 4),
    }
    assert {"identification_accuracy", "verification_auroc"} <= {r["metric"] for r in rows}
    assert run_scaling(study, store, tmp_path / "cache", console) == [], "finished variants are skipped"
    assert [p.name for p in plot_scaling(store, tmp_path)] == ["zero_shot_scaling.png"]


def test_an_unknown_study_key_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("variantz: []\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['variantz'\]"):
        ScalingStudy.from_yaml(tmp_path / "s.yaml")
