"""OSCR, identification and verification metrics against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from core.metrics.attribution import (
    IdentificationAccuracy,
    OpenSetClassificationRate,
    VerificationMetrics,
    accuracy_at,
    best_accuracy_threshold,
    eer_threshold,
    nearest_centroid,
    oscr,
    tar_at_far,
)

T = torch.tensor


def test_oscr_hand_computed() -> None:
    # thresholds 0.9 .85 .8 .7 .6 -> (fpr, ccr): (0,1/3) (.5,1/3) (.5,1/3) (.5,2/3) (1,2/3): area 1/6 + 1/3
    assert float(oscr(T([0.9, 0.8, 0.7]), T([1, 0, 1]), T([0.85, 0.6]))) == pytest.approx(0.5)


def test_oscr_perfect_worthless_and_tied() -> None:
    assert float(oscr(T([0.9, 0.8]), T([1, 1]), T([0.1, 0.2]))) == pytest.approx(1.0)
    assert float(oscr(T([0.9, 0.8]), T([0, 0]), T([0.1, 0.2]))) == pytest.approx(0.0)
    # a known and an unknown tied: both rates move together -> the diagonal, area 1/2
    assert float(oscr(T([0.5]), T([1]), T([0.5]))) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least one known and one unknown"):
        oscr(T([0.5]), T([1]), T([]))


def test_oscr_metric_accumulates_like_the_function() -> None:
    metric = OpenSetClassificationRate()
    metric.update(T([0.9, 0.85]), T([1, 0]), T([1, 0]))
    metric.update(T([0.8, 0.7, 0.6]), T([0, 1, 0]), T([1, 1, 0]))
    assert float(metric.compute()) == pytest.approx(0.5)


def test_nearest_centroid_uses_cosine_and_breaks_ties_to_the_lower_label() -> None:
    gallery = T([[1.0, 0.0], [10.0, 0.0], [0.0, 1.0]])
    labels = T([3, 3, 7])  # labels need not be contiguous; scale does not matter (cosine)
    assert nearest_centroid(T([[5.0, 0.1], [0.1, 0.2], [1.0, 1.0]]), gallery, labels).tolist() == [3, 7, 3]


def test_nearest_centroid_in_chunks_reads_gathered_rows_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.metrics.attribution as module

    gen = torch.Generator().manual_seed(0)
    queries, gallery = torch.randn(50, 6, generator=gen), torch.randn(40, 6, generator=gen)
    labels = torch.randint(0, 9, (40,), generator=gen)
    rows, gallery_rows = torch.randperm(50, generator=gen)[:37], torch.randperm(40, generator=gen)[:29]
    whole = nearest_centroid(queries[rows], gallery[gallery_rows], labels[gallery_rows])
    monkeypatch.setattr(module, "CHUNK", 4)  # many chunks and a short last one
    chunked = nearest_centroid(queries, gallery, labels[gallery_rows], rows=rows, gallery_rows=gallery_rows)
    assert torch.equal(chunked, whole)
    with pytest.raises(ValueError, match="30 gallery labels for 29 gallery rows"):
        nearest_centroid(queries, gallery, labels[:30], gallery_rows=gallery_rows)


def test_pairwise_fingerprint_distance_in_chunks_is_the_mean_over_pairs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import core.metrics.synthetic_quality as module

    prints = torch.randn(11, 5, generator=torch.Generator().manual_seed(1))
    wide = prints.double()
    pairs = [float((wide[i] - wide[j]).pow(2).mean().sqrt()) for i in range(11) for j in range(i + 1, 11)]
    monkeypatch.setattr(module, "PAIR_CHUNK", 3)
    expected = sum(pairs) / len(pairs)
    assert float(module.pairwise_fingerprint_distance(prints)) == pytest.approx(expected, rel=1e-12)


def test_identification_accuracy_pools_episodes() -> None:
    metric = IdentificationAccuracy()
    gallery, labels = T([[1.0, 0.0], [0.0, 1.0]]), T([0, 1])
    metric.update(T([[1.0, 0.1]]), T([0]), gallery, labels)
    metric.update(T([[1.0, 0.1], [0.1, 1.0], [0.2, 1.0]]), T([1, 1, 1]), gallery, labels)
    assert float(metric.compute()) == pytest.approx(3 / 4)


def test_verification_hand_computed() -> None:
    similarity, same = T([0.9, 0.5, 0.7, 0.1]), T([1, 1, 0, 0])
    # AUROC: positive-negative pairs 0.9>0.7, 0.9>0.1, 0.5<0.7, 0.5>0.1 -> 3/4
    metric = VerificationMetrics(threshold=0.6)
    metric.update(similarity, same)
    out = metric.compute()
    assert float(out["auroc"]) == pytest.approx(0.75)
    assert float(out["tar_at_far1"]) == pytest.approx(0.5)  # only threshold 0.9 keeps FAR at 0
    assert float(out["accuracy_val_threshold"]) == pytest.approx(0.5)  # >= 0.6: [1, 0, 1, 0]
    assert float(tar_at_far(similarity, same, far=0.5)) == pytest.approx(1.0)
    # best threshold on these pairs: 0.5 and 0.9 both give 3/4; the lower one is taken
    assert float(best_accuracy_threshold(similarity, same)) == pytest.approx(0.5)
    # ROC: thr .9 (FAR 0, FRR .5), .7 (FAR .5, FRR .5), .5 (FAR .5, FRR 0): equal at 0.7 -> accuracy 1/2
    assert float(eer_threshold(similarity, same)) == pytest.approx(0.7)
    assert float(out["accuracy_eer"]) == pytest.approx(0.5)


def test_eer_threshold_is_on_the_similarity_scale_even_for_negative_similarities() -> None:
    # cosine similarities in [-1, 1]: a perfectly separable set must be judged perfectly
    similarity, same = T([-0.9, -0.5, -0.2, 0.3, 0.6, 0.8]), T([0, 0, 0, 1, 1, 1])
    threshold = eer_threshold(similarity, same)
    assert -0.2 < float(threshold) <= 0.3 + 1e-6
    assert float(accuracy_at(similarity, same, threshold)) == pytest.approx(1.0)


def test_verification_ties_and_degenerate_pairs() -> None:
    metric = VerificationMetrics()
    metric.update(T([0.5, 0.5, 0.5, 0.5]), T([1, 0, 1, 0]))
    assert float(metric.compute()["auroc"]) == pytest.approx(0.5)
    one_sided = VerificationMetrics()
    one_sided.update(T([0.9, 0.1]), T([1, 1]))
    with pytest.raises(ValueError, match="both same-model and different-model pairs"):
        one_sided.compute()
