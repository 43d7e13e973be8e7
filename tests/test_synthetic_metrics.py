"""Fidelity (FFD) and diversity metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from core.images import log_spectrum, residual
from core.metrics.synthetic_quality import (
    FingerprintDiversity,
    FrechetFrequencyDistance,
    frechet_distance,
    pairwise_fingerprint_distance,
)


def test_frechet_distance_matches_hand_computed_values() -> None:
    # 1-D: N(0, 1) vs N(1, 4): 1 + 1 + 4 - 2 * sqrt(4) = 2
    assert float(
        frechet_distance(torch.zeros(1), torch.eye(1), torch.ones(1), 4 * torch.eye(1))
    ) == pytest.approx(2)
    # 2-D diagonal: |mu|^2 = 5; tr = 5 + 5; sqrt(C1 C2) = diag(2, 2) -> 5 + 10 - 8 = 7
    d = frechet_distance(
        torch.zeros(2),
        torch.diag(torch.tensor([1.0, 4.0])),
        torch.tensor([1.0, 2.0]),
        torch.diag(torch.tensor([4.0, 1.0])),
    )
    assert float(d) == pytest.approx(7)
    # Degenerate: identical singular covariances
    c = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    assert float(frechet_distance(torch.zeros(2), c, torch.zeros(2), c)) == pytest.approx(0, abs=1e-6)


def test_ffd_is_zero_for_identical_sets_and_grows_with_a_shift() -> None:
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (200, 3, 8, 8), dtype=torch.uint8, generator=gen)
    same = FrechetFrequencyDistance(resolution=8)
    same.update(images, real=True)
    same.update(images, real=False)
    assert float(same.compute()) == pytest.approx(0, abs=1e-6)
    blurred = images.float().clone()
    blurred[..., 1:] = (blurred[..., 1:] + blurred[..., :-1]) / 2  # a generator that smooths
    shifted = FrechetFrequencyDistance(resolution=8)
    shifted.update(images, real=True)
    shifted.update(blurred.round().to(torch.uint8), real=False)
    assert float(shifted.compute()) > 1.0


def test_ffd_accumulates_in_parts_exactly_as_in_one_go() -> None:
    gen = torch.Generator().manual_seed(1)
    real, fake = (torch.randint(0, 256, (60, 3, 8, 8), dtype=torch.uint8, generator=gen) for _ in range(2))
    whole, parts = FrechetFrequencyDistance(resolution=8), FrechetFrequencyDistance(resolution=8)
    whole.update(real, real=True)
    whole.update(fake, real=False)
    for chunk in real.split(7):
        parts.update(chunk, real=True)
    for chunk in fake.split(11):
        parts.update(chunk, real=False)
    assert float(whole.compute()) == pytest.approx(float(parts.compute()), rel=1e-6)


def test_ffd_needs_two_images_per_side() -> None:
    metric = FrechetFrequencyDistance(resolution=8)
    metric.update(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), real=True)
    with pytest.raises(ValueError, match="at least two"):
        metric.compute()


def test_pairwise_distance_hand_computed() -> None:
    # pairs: (0,0)-(3,4): RMS 5/sqrt(2); (0,0)-(0,0): 0; (3,4)-(0,0): 5/sqrt(2) -> mean 2*5/sqrt(2)/3
    fingerprints = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    assert float(pairwise_fingerprint_distance(fingerprints)) == pytest.approx(2 * 5 / math.sqrt(2) / 3)
    with pytest.raises(ValueError, match="two models"):
        pairwise_fingerprint_distance(fingerprints[:1])


def test_diversity_is_zero_for_identical_models_and_ignores_empty_ones() -> None:
    gen = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8, generator=gen)
    metric = FingerprintDiversity(num_models=3, resolution=8)
    metric.update(images, torch.zeros(10, dtype=torch.long))
    metric.update(images, torch.ones(10, dtype=torch.long))  # model 2 never seen
    assert float(metric.compute()) == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\)"):
        metric.update(images, torch.full((10,), 3))


def test_diversity_matches_the_functional_core_on_per_model_means() -> None:
    gen = torch.Generator().manual_seed(3)
    a, b = (torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8, generator=gen) for _ in range(2))
    metric = FingerprintDiversity(num_models=2, resolution=8)
    metric.update(torch.cat([a, b]), torch.tensor([0] * 5 + [1] * 5))
    expected = pairwise_fingerprint_distance(
        torch.stack([log_spectrum(a).mean(0).flatten(), log_spectrum(b).mean(0).flatten()])
    )
    assert float(metric.compute()) == pytest.approx(float(expected), rel=1e-6)


def test_a_flat_image_has_no_residual() -> None:
    flat = torch.full((2, 3, 8, 8), 128, dtype=torch.uint8)
    assert residual(flat).abs().max() == 0
    assert torch.allclose(log_spectrum(flat), torch.full((2, 8, 8), math.log(1e-4)))
