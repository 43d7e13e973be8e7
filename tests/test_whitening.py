"""The whitened zero-shot embedding (WCCN) and zero shot among known generators with folds, so
that a post-processing fitted with generator labels is never credited on the generators it saw."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from benchmarks.attribution.embedding import embedding_reads_head
from benchmarks.protocols.zero_shot import ZeroShotProtocol
from lightning_modules.base import Features
from lightning_modules.heads import WithinClassWhitening
from lightning_modules.synthetic_fingerprint.methods import RandomFingerprintMethod

GENERATORS = tuple(f"g{i}" for i in range(6))


def clustered(split: str, per_generator: int = 20, seed: int = 0) -> Features:
    """Six generators around their own centres, with noise stretched along one direction."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(len(GENERATORS), 8, generator=torch.Generator().manual_seed(1)) * 3
    labels = torch.arange(len(GENERATORS)).repeat_interleave(per_generator)
    noise = torch.randn(len(labels), 8, generator=gen) * torch.tensor([5.0, *[0.5] * 7])
    return Features(split, centres[labels] + noise, labels, GENERATORS)


def test_whitening_makes_the_within_generator_covariance_the_identity() -> None:
    train = clustered("known_train", per_generator=400)
    whitened = WithinClassWhitening(shrinkage=1e-6).fit(train.values, train.labels).transform(train.values)
    centres = torch.stack([whitened[train.labels == g].mean(0) for g in range(len(GENERATORS))])
    within = whitened - centres[train.labels]
    covariance = within.T @ within / len(within)
    assert torch.allclose(covariance, torch.eye(8), atol=1e-3)


def test_whitening_refuses_what_it_cannot_fit() -> None:
    with pytest.raises(ValueError, match="shrinkage must be > 0"):
        WithinClassWhitening(shrinkage=0)
    with pytest.raises(RuntimeError, match="fit must run first"):
        WithinClassWhitening().transform(torch.zeros(2, 8))
    with pytest.raises(ValueError, match="at least two generators"):
        WithinClassWhitening().fit(torch.randn(10, 8), torch.zeros(10, dtype=torch.long))


def test_the_whitened_embedding_needs_the_known_generators_and_is_a_valid_choice() -> None:
    method = RandomFingerprintMethod(zero_shot_embedding="whitened")
    assert embedding_reads_head(method), "the attribution tool must fit the head first"
    train, val = clustered("known_train"), clustered("known_val", seed=1)
    method.fit_head(train, val, 0)
    assert torch.allclose(method.embed(val.values), method.whitening.transform(val.values))
    with pytest.raises(ValueError, match="valid: \\('raw', 'standardised', 'whitened'\\)"):
        RandomFingerprintMethod(zero_shot_embedding="lda")


@pytest.mark.parametrize("name", ["noise_residual", "supervised_cnn", "pose", "spectral"])
def test_a_baseline_may_whiten_too_and_keeps_its_keys(name: str) -> None:
    """The flagship's option is the baselines' too: ``whitened`` embeds as the whitening fitted
    on known-train features does; the default is the method's own embedding; neither the
    feature cache's key nor the training key changes with the choice."""
    from lightning_modules.method_config import build_method

    own, whitened = build_method(name), build_method(name, {"zero_shot_embedding": "whitened"})
    assert own.zero_shot_embedding == type(own).own_embeddings[0], "the paper's own is the default"
    assert own.method_key() == whitened.method_key()
    assert own.feature_hparams() == whitened.feature_hparams()
    train, val = clustered("known_train"), clustered("known_val", seed=1)
    whitened.fit_whitening(train)
    expected = WithinClassWhitening().fit(train.values, train.labels).transform(val.values)
    assert torch.allclose(whitened.embed(val.values), expected)
    own.fit_whitening(train)  # not chosen: not fitted (a wide residual pays nothing for it)
    assert own.whitening.whitener is None
    with pytest.raises(ValueError, match=r"unknown zero_shot_embedding 'lda'; valid: .*'whitened'"):
        build_method(name, {"zero_shot_embedding": "lda"})


class FoldRecorder:
    """A method whose head records which generators each fit saw; embeddings are the features."""

    def __init__(self) -> None:
        self.fits: list[list[str]] = []

    def fit_head(self, train: Features, val: Features, seed: int) -> dict[str, Any]:
        seen = sorted({train.generator_ids[int(g)] for g in train.labels.unique()})
        assert seen == sorted({val.generator_ids[int(g)] for g in val.labels.unique()})
        self.fits.append(seen)
        return {}

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        return features


def test_zero_shot_with_folds_never_fits_on_the_generators_an_episode_tells_apart() -> None:
    features = {"known_train": clustered("known_train"), "known_val": clustered("known_val", seed=1)}
    protocol = ZeroShotProtocol(
        split="known_val",
        gallery_per_model=5,
        episodes=4,
        pairs_per_episode=50,
        bootstrap_samples=5,
        fit_folds=2,
    )
    method = FoldRecorder()
    [result] = protocol.evaluate(method, features, seed=0)  # type: ignore[arg-type]
    # one fit per fold without its generators, then the head on every generator again
    assert method.fits == [["g1", "g3", "g5"], ["g0", "g2", "g4"], list(GENERATORS)]
    assert result.details["fit_folds"] == [[0, 2, 4], [1, 3, 5]]
    assert result.details["n_way"] == 3, "an episode is among one fold's generators"
    figures = {f.metric: f.value for f in result.figures}
    assert figures["identification_accuracy"] > 1 / 3, "the clusters are told apart within a fold"
    assert protocol.config()["fit_folds"] == 2
    assert "fit_folds" not in ZeroShotProtocol(split="known_val").config(), (
        "cells without folds keep their keys"
    )
    with pytest.raises(ValueError, match="at least two generators per fold"):
        ZeroShotProtocol(split="known_val", fit_folds=4).evaluate(method, features, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fit_folds must be at least 2"):
        ZeroShotProtocol(fit_folds=1)
