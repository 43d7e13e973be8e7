"""A zero-shot embedding any feature method may choose: its own, or whitened (WCCN).

The flagship compares fingerprints whitened by the known generators' within-generator covariance
(:class:`~lightning_modules.heads.WithinClassWhitening`), a choice made on the selection split. A
baseline compared without that option would be denied a post-processing the flagship got, so the
option is one mixin that any method with features and known-train labels takes: its
``zero_shot_embedding`` is one of its own embeddings (the first: its paper's, the default) or
``whitened``, and each method's YAML keeps the one its own selection-split figures chose
(docs/protocols.md). Like every post-feature argument (:mod:`core.method_options`) it changes
neither the features nor any trained weights: caches and training keys stay as they were.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from core.method_options import POST_FEATURE_ARGS
from lightning_modules.base import Features
from lightning_modules.heads import WithinClassWhitening

WHITENED = "whitened"


class WhitenableZeroShot:
    """Mixin for an :class:`~lightning_modules.base.AttributionMethod`: ``zero_shot_embedding``
    chooses among ``own_embeddings`` (given by :meth:`own_embedding`) and ``whitened``;
    ``whitening_shrinkage`` regularises the whitening. Call :meth:`choose_zero_shot_embedding`
    in ``__init__``; the whitening is fitted after the next class's ``fit_head`` (a method that
    replaces ``fit_head`` without ``super()`` calls :meth:`fit_whitening` in it)."""

    post_feature_hparams: ClassVar[tuple[str, ...]] = POST_FEATURE_ARGS
    #: the method's own zero-shot embeddings, its paper's first
    own_embeddings: ClassVar[tuple[str, ...]] = ("raw",)
    #: fit the whitening whatever the embedding (a study switches one fitted method between
    #: them); otherwise only when it is chosen, so that a method with wide features pays for a
    #: within-generator covariance only where it is used
    always_fit_whitening: ClassVar[bool] = False

    zero_shot_embedding: str
    whitening: WithinClassWhitening

    def choose_zero_shot_embedding(self, zero_shot_embedding: str, whitening_shrinkage: float) -> None:
        valid = (*self.own_embeddings, WHITENED)
        if zero_shot_embedding not in valid:
            raise ValueError(f"unknown zero_shot_embedding {zero_shot_embedding!r}; valid: {valid}")
        self.zero_shot_embedding = zero_shot_embedding
        self.whitening = WithinClassWhitening(whitening_shrinkage)

    def fit_head(self, train: Features, val: Features, seed: int) -> dict[str, Any]:
        info = super().fit_head(train, val, seed)  # type: ignore[misc]
        self.fit_whitening(train)
        return info

    def fit_whitening(self, train: Features) -> None:
        """Fit the whitening on known-train features and their generators (where it is used)."""
        if self.always_fit_whitening or self.zero_shot_embedding == WHITENED:
            self.whitening.fit(train.values, train.labels)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        if self.zero_shot_embedding == WHITENED:
            return self.whitening.transform(features)
        return self.own_embedding(features)

    def own_embedding(self, features: torch.Tensor) -> torch.Tensor:
        """The method's own embedding named by ``zero_shot_embedding`` (default: as it is)."""
        return features.float()
