"""The detection protocol: real vs generated images through a probe on any method's features,
on the known generators' test images and on each unseen subset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score

import tests.fabricated
from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.plan import PlanError
from benchmarks.protocols.detection import DetectionProtocol, balanced_threshold
from benchmarks.runner import run_benchmark
from leaderboards.store import ResultsStore
from lightning_modules.base import Features
from lightning_modules.spectral import SpectralMethod

SUBSETS = ("known_test", "unseen_seed", "unseen_dataset", "unseen_architecture", "unseen_all")


def test_the_threshold_maximises_balanced_accuracy_and_ties_go_low() -> None:
    real, generated = torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.25, 0.4, 0.5])
    assert balanced_threshold(real, generated) == pytest.approx(0.25)
    assert balanced_threshold(torch.tensor([0.0, 0.1]), torch.tensor([0.9, 1.0])) == pytest.approx(0.9)


def split_features(method: SpectralMethod, name: str) -> Features:
    split = tests.fabricated.fabricated_split(name)
    return Features(
        name, method.features(split.images.float() / 127.5 - 1), split.labels, split.generator_ids
    )


def test_figures_agree_with_scikit_learn_on_the_same_scores() -> None:
    method = SpectralMethod()
    features = {name: split_features(method, name) for name in ("known_train", "known_val", *SUBSETS)}
    features |= {name: split_features(method, name) for name in ("real_train", "real_val", "real_test")}
    protocol = DetectionProtocol(SUBSETS, bootstrap_samples=0)
    results = {r.split: r for r in protocol.evaluate(method, features, seed=0)}
    assert set(results) == set(SUBSETS)
    known = {f.metric: f.value for f in results["known_test"].figures}
    assert known["auroc"] > 0.9, "spectral features tell a periodic trace from none"

    # the same probe scores, recomputed, through scikit-learn
    from lightning_modules.heads import LinearProbe

    def labelled(generated: str, real: str) -> tuple[torch.Tensor, torch.Tensor]:
        g, r = features[generated].values, features[real].values
        return torch.cat([g, r]), torch.cat([torch.ones(len(g)), torch.zeros(len(r))]).long()

    probe = LinearProbe(seed=0)
    probe.fit(*labelled("known_train", "real_train"), *labelled("known_val", "real_val"))
    x, y = labelled("unseen_all", "real_test")
    scores = probe.logits(x)[:, 1]
    threshold = results["unseen_all"].details["threshold"]
    unseen = {f.metric: f.value for f in results["unseen_all"].figures}
    assert unseen["auroc"] == pytest.approx(roc_auc_score(y, scores), abs=1e-6)
    assert unseen["average_precision"] == pytest.approx(average_precision_score(y, scores), abs=1e-6)
    assert unseen["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(y, scores >= threshold), abs=1e-6
    )
    assert unseen["accuracy"] == pytest.approx(
        float(((scores >= threshold).long() == y).float().mean()), abs=1e-6
    )
    assert set(results["unseen_all"].details["per_generator_detected"]) == set(
        features["unseen_all"].generator_ids
    )


def test_a_run_records_detection_per_generated_set_and_a_data_set_without_real_images_leaves_it_out(
    tmp_path: Path,
) -> None:
    store, cache = ResultsStore(tmp_path / "r.sqlite"), FeatureCache(tmp_path / "cache")
    cfg = BenchmarkConfig(
        methods=["spectral"], protocols=["detection"], dataset="fabricated", bootstrap_samples=10
    )
    run_benchmark(cfg, store, cache)
    assert {r["split"] for r in store.runs(protocol="detection")} == set(SUBSETS)
    row = store.figure_rows(protocol="detection", split="known_test", metric="auroc")[0]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]

    folder = tmp_path / "folder"
    for g, freq in enumerate([(1, 2), (3, 1)]):
        (folder / f"gen{g}").mkdir(parents=True)
        from PIL import Image

        for i, image in enumerate(tests.fabricated._images(freq, 12, g)):
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"gen{g}" / f"{i}.png")
    own = BenchmarkConfig(
        methods=["spectral"],
        protocols=["detection"],
        dataset="imagefolder",
        dataset_args={"path": str(folder)},
        reference="fabricated",
        bootstrap_samples=0,
    )
    with pytest.raises(PlanError, match="protocol 'detection' needs"):
        run_benchmark(own, store, cache)
