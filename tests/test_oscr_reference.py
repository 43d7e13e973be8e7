"""The suite's OSCR against two independent reference computations, on hand-made cases.

OSCR (Dhamija, Günther and Boult, NeurIPS 2018): the area under the curve of the correct
classification rate on knowns (CCR: classified correctly *and* scored at or above the
threshold) against the false-positive rate on unknowns (FPR: scored at or above it) as the
threshold sweeps. Two indexing mistakes run through common open-set code, and the cases
below are built so that either one changes the figure:

* **CCR at FPR = 1.** At the lowest threshold every known is accepted, so the curve ends at
  the closed-set accuracy, never at CCR = 1 (Günther, the metric's co-author, on
  sgvaze/osr_closed_set_all_you_need issue #28).
* **The k / k+1 slicing.** Counting correct knowns from sorted position ``k + 1`` but
  unknowns from ``k`` accepts knowns by ``>`` and unknowns by ``>=``, and never evaluates the
  top score (gary23ai/ARPL issue #15, Cogito2012/OpenTAL issue #4): one threshold must accept
  a known and an unknown by the same rule.

Reference 1 sweeps every threshold by brute force in exact fractions; reference 2 is the
pair-counting (Mann-Whitney) form of the same area, which a trapezoid over tie-aware steps
equals: the share of (correct known, unknown) pairs the known outscores, ties counting half.
Neither shares code with ``core.metrics.attribution``.
"""

from __future__ import annotations

import random
from fractions import Fraction
from itertools import pairwise

import pytest
import torch

from core.metrics.attribution import OpenSetClassificationRate, oscr, oscr_curve


def brute_force_oscr(known: list[float], correct: list[bool], unknown: list[float]) -> Fraction:
    """Every threshold (each distinct score, and +inf) as one operating point; trapezoid in
    exact fractions over the points sorted by (FPR, CCR)."""
    points = {(Fraction(0), Fraction(0))}  # +inf accepts nothing
    for t in set(known) | set(unknown):
        ccr = Fraction(sum(1 for s, c in zip(known, correct, strict=True) if c and s >= t), len(known))
        fpr = Fraction(sum(1 for s in unknown if s >= t), len(unknown))
        points.add((fpr, ccr))
    ordered = sorted(points)
    return sum(((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in pairwise(ordered)), Fraction(0))


def pair_counting_oscr(known: list[float], correct: list[bool], unknown: list[float]) -> Fraction:
    """P(a correct known outscores an unknown), ties half, over all known x unknown pairs."""
    wins = sum(
        Fraction(1) if k > u else Fraction(1, 2) if k == u else Fraction(0)
        for k, c in zip(known, correct, strict=True)
        if c
        for u in unknown
    )
    return wins / (len(known) * len(unknown))


def suite_oscr(known: list[float], correct: list[bool], unknown: list[float]) -> float:
    return float(oscr(torch.tensor(known), torch.tensor(correct), torch.tensor(unknown)))


# (known scores, correct, unknown scores, the area by hand, what a wrong implementation gives)
HAND_MADE = {
    # the docstring's example: thresholds .9 .85 .8 .7 .6 -> area 1/6 + 1/3
    "mixed": ([0.9, 0.8, 0.7], [True, False, True], [0.85, 0.6], Fraction(1, 2)),
    # FPR = 1: knowns all above unknowns but half misclassified -> the curve ends at (1, 1/2);
    # a curve closed at (1, 1) after its last evaluated point (1/2, 1/2) would give 5/8
    "ccr_at_fpr_one": ([0.9, 0.8], [True, False], [0.5, 0.1], Fraction(1, 2)),
    # the top score is a correct known: CCR = 1/2 already at FPR = 0. Slicing knowns from k+1
    # and never evaluating the top threshold joins (0, 0) to (1, 1/2) instead: 1/4
    "top_score_known": ([0.9, 0.8], [True, False], [0.85], Fraction(1, 2)),
    # a correct known tied with an unknown: one threshold accepts both (>= for both) -> the
    # diagonal, 1/2. Accepting knowns by > and unknowns by >= gives 0; the reverse gives 1
    "tie_known_unknown": ([0.5], [True], [0.5], Fraction(1, 2)),
    # ties inside and across groups, a wrong known among them
    "tied_groups": (
        [0.7, 0.7, 0.4, 0.4, 0.2],
        [True, False, True, True, True],
        [0.7, 0.4, 0.4, 0.1],
        # correct 0.7: 1/2 + 2 + 1; each correct 0.4: 1/2 + 1/2 + 1; 0.2: 1 -> 8.5 of 20 pairs
        Fraction(17, 40),
    ),
    "perfect": ([0.9, 0.8], [True, True], [0.2, 0.1], Fraction(1)),
    "all_wrong": ([0.9, 0.8], [False, False], [0.2, 0.1], Fraction(0)),
    "unknowns_on_top": ([0.2, 0.1], [True, True], [0.9, 0.8], Fraction(0)),
}


@pytest.mark.parametrize("case", sorted(HAND_MADE))
def test_suite_oscr_equals_both_references_and_the_hand_value(case: str) -> None:
    known, correct, unknown, by_hand = HAND_MADE[case]
    assert brute_force_oscr(known, correct, unknown) == by_hand
    assert pair_counting_oscr(known, correct, unknown) == by_hand
    assert suite_oscr(known, correct, unknown) == pytest.approx(float(by_hand), abs=1e-6)


def test_the_curve_ends_at_fpr_one_with_the_closed_set_accuracy() -> None:
    known, correct, unknown, _ = HAND_MADE["ccr_at_fpr_one"]
    fpr, ccr = oscr_curve(torch.tensor(known), torch.tensor(correct), torch.tensor(unknown))
    assert (float(fpr[-1]), float(ccr[-1])) == (1.0, 0.5)  # accuracy, not 1
    assert float(ccr.max()) == 0.5


def test_the_top_threshold_is_evaluated_for_knowns_and_unknowns_alike() -> None:
    known, correct, unknown, _ = HAND_MADE["top_score_known"]
    fpr, ccr = oscr_curve(torch.tensor(known), torch.tensor(correct), torch.tensor(unknown))
    points = list(zip(fpr.tolist(), ccr.tolist(), strict=True))
    assert points[:2] == [(0.0, 0.0), (0.0, 0.5)]  # the top score (a correct known) alone
    # a tie moves both rates in one step: no point where only one side of the tie is accepted
    fpr, ccr = oscr_curve(torch.tensor([0.5]), torch.tensor([True]), torch.tensor([0.5]))
    assert list(zip(fpr.tolist(), ccr.tolist(), strict=True)) == [(0.0, 0.0), (1.0, 1.0)]


@pytest.mark.parametrize("seed", range(5))
def test_random_heavily_tied_scores_match_the_references(seed: int) -> None:
    rng = random.Random(seed)
    known = [rng.randint(0, 6) / 6 for _ in range(rng.randint(1, 25))]  # 7 levels: many ties
    correct = [rng.random() < 0.7 for _ in known]
    unknown = [rng.randint(0, 6) / 6 for _ in range(rng.randint(1, 25))]
    reference = brute_force_oscr(known, correct, unknown)
    assert reference == pair_counting_oscr(known, correct, unknown)
    assert suite_oscr(known, correct, unknown) == pytest.approx(float(reference), abs=1e-6)
    metric = OpenSetClassificationRate()  # batched and functional agree
    half = len(known) // 2
    scores = torch.tensor(known + unknown)
    is_known = torch.tensor([True] * len(known) + [False] * len(unknown))
    right = torch.tensor(correct + [False] * len(unknown))
    metric.update(scores[:half], right[:half], is_known[:half])
    metric.update(scores[half:], right[half:], is_known[half:])
    assert float(metric.compute()) == pytest.approx(float(reference), abs=1e-6)
