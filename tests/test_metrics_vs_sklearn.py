"""The figures other benchmarks report, each checked against scikit-learn on the same inputs:
one-vs-rest macro AUROC and AP (closed set), NMI / cluster accuracy / purity (unseen
generators' clusters), macro-F1 and per-generator F1 (zero-shot identification)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize
from torchmetrics.functional.classification import multiclass_auroc, multiclass_average_precision

from benchmarks.cli import main
from benchmarks.protocols.zero_shot import macro_f1_over, per_generator_identification
from core.metrics.clustering import ClusteringQuality, cluster_accuracy, kmeans_clusters, purity
from leaderboards.store import ResultsStore
from tests.test_public_datasets import genimage_fixture

RNG = np.random.default_rng(30)


@pytest.mark.parametrize("trial", range(5))
def test_clustering_figures_match_scikit_learn(trial: int) -> None:
    k = int(RNG.integers(2, 5))
    labels = torch.from_numpy(RNG.integers(0, k, 60))
    clusters = torch.from_numpy(RNG.integers(0, k, 60))
    table = skm.cluster.contingency_matrix(labels.numpy(), clusters.numpy())
    best = max(
        sum(table[i, p[i]] for i in range(k)) for p in itertools.permutations(range(table.shape[1]), k)
    )
    assert float(cluster_accuracy(clusters, labels)) == pytest.approx(best / 60)
    assert float(purity(clusters, labels)) == pytest.approx(table.max(axis=0).sum() / 60)
    metric = ClusteringQuality()
    metric.update(clusters[:30], labels[:30])
    metric.update(clusters[30:], labels[30:])
    nmi = float(metric.compute()["nmi"])
    assert nmi == pytest.approx(skm.normalized_mutual_info_score(labels.numpy(), clusters.numpy()), abs=1e-5)


def test_kmeans_separates_separated_generators() -> None:
    centres = torch.eye(3) * 10
    labels = torch.arange(3).repeat_interleave(20)
    points = centres[labels] + torch.from_numpy(RNG.normal(0, 0.1, (60, 3))).float()
    clusters = kmeans_clusters(points, 3, seed=0)
    assert float(cluster_accuracy(clusters, labels)) == 1.0 and float(purity(clusters, labels)) == 1.0


def test_one_vs_rest_macro_auroc_and_ap_match_scikit_learn() -> None:
    classes = 4
    target = torch.from_numpy(RNG.integers(0, classes, 200))
    logits = torch.from_numpy(RNG.normal(0, 1, (200, classes))) + 1.5 * torch.nn.functional.one_hot(target)
    probabilities = logits.softmax(dim=1).float()
    auroc = multiclass_auroc(probabilities, target, classes, average="macro")
    ap = multiclass_average_precision(probabilities, target, classes, average="macro")
    onehot = label_binarize(target.numpy(), classes=range(classes))
    assert float(auroc) == pytest.approx(
        skm.roc_auc_score(target.numpy(), probabilities.numpy(), multi_class="ovr", average="macro"), abs=1e-5
    )
    assert float(ap) == pytest.approx(
        skm.average_precision_score(onehot, probabilities.numpy(), average="macro"), abs=1e-5
    )


def test_zero_shot_macro_f1_and_per_generator_figures_match_scikit_learn() -> None:
    chosen = torch.tensor([7, 2, 5])  # an episode's generators, by their ids in the split
    truth = chosen[torch.from_numpy(RNG.integers(0, 3, 90))]
    predicted = torch.where(
        torch.from_numpy(RNG.random(90) < 0.7), truth, chosen[torch.from_numpy(RNG.integers(0, 3, 90))]
    )
    assert macro_f1_over(predicted, truth, chosen) == pytest.approx(
        skm.f1_score(truth.numpy(), predicted.numpy(), average="macro"), abs=1e-6
    )
    names = tuple(f"g{i}" for i in range(8))
    table = per_generator_identification(predicted, truth, names)
    _, recall, f1, support = skm.precision_recall_fscore_support(
        truth.numpy(), predicted.numpy(), labels=[2, 5, 7], zero_division=0
    )
    for i, label in enumerate([2, 5, 7]):
        row = table[names[label]]
        assert row["queries"] == support[i]
        assert row["identification_accuracy"] == pytest.approx(recall[i])
        assert row["f1"] == pytest.approx(f1[i])
    assert set(table) == {"g2", "g5", "g7"}


def test_the_board_has_per_unseen_generator_tables_and_a_confusion_plot(
    tmp_path: Path,
) -> None:
    genimage_fixture(tmp_path / "data", val_images=12)
    groups = "unseen_architecture: [VQDM], unseen_dataset: [wukong]"
    args = [
        "run",
        "--dataset=genimage",
        f"--dataset_args={{root: {tmp_path / 'data'}, {groups}}}",
        "--methods=[spectral]",
        "--bootstrap_samples=0",
        "--protocols=[closed_set,open_set,zero_shot]",
        "--protocol_args={zero_shot: {gallery_per_model: 4, episodes: 2, pairs_per_episode: 100}}",
    ]
    assert main(args) == 0
    store = ResultsStore(tmp_path / "results.sqlite")
    metrics = {r["metric"] for r in store.figure_rows()}
    assert {"macro_auroc_ovr", "macro_ap_ovr", "identification_macro_f1", "clustering_nmi"} <= metrics
    assert {"clustering_cluster_accuracy", "clustering_purity"} <= metrics
    assert main(["board", f"--out={tmp_path / 'board'}"]) == 0
    text = (tmp_path / "board" / "per_generator.md").read_text()
    assert (
        "## open-set AUROC vs known test (genimage:data)" in text
        and "| VQDM |" in text
        and "| wukong |" in text
    )
    assert "## zero-shot identification (genimage:data)" in text
    assert list((tmp_path / "board").glob("unseen_confusion_spectral_*.png"))
    # the fingerprint map: a seeded t-SNE of every unseen generator's zero-shot embeddings
    run = store.runs(protocol="zero_shot")[0]
    record = json.loads(run["details_json"])["map"]
    assert len(record["x"]) == len(record["y"]) == len(record["labels"]) > 0
    assert set(record["labels"]) == set(range(len(json.loads(run["details_json"])["generators"])))
    assert list((tmp_path / "board").glob("fingerprint_map_spectral_*.png"))
