"""The one interface every attribution method honours (scikit-learn style: fit, then score).

A method is a LightningModule whose ``predict_step`` maps images to *features*; the runner
extracts them with ``Trainer.predict`` (devices and precision are the Trainer's business) and
caches them per (method key, data hash, split). On top of the features:

* ``fit_extractor(train, val)`` - optional training on the *known* generators' images
  (a supervised CNN does; the spectral baseline has nothing to train);
* ``fit_head(train_features, val_features)`` - the closed-set head, its hyper-parameters
  chosen on the known generators' *validation* images only;
* ``logits`` (closed set), ``open_set_score`` (higher = more likely a known generator) and
  ``embed`` (zero shot) - all functions of features, so protocols never see images and one
  protocol implementation serves every method.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import torch

from core.hashing import config_hash
from lightning_modules.heads import LinearProbe


class EveryCapability(frozenset):
    """What a method serves by default: every protocol, since each reads only the interface
    every method has (features, logits, open-set score, embedding). A method that cannot serve
    some names the capabilities it has instead, so a new protocol needs no entry here."""

    def __contains__(self, capability: object) -> bool:
        return True

    def __repr__(self) -> str:
        return "EveryCapability()"


CAPABILITIES: frozenset[str] = EveryCapability()


@dataclass(frozen=True)
class Features:
    """Features of one split's images, with their labels and the generators the labels index."""

    split: str
    values: torch.Tensor
    labels: torch.Tensor
    generator_ids: tuple[str, ...]
    #: per generator id, the known generator it is the counterpart of (semantic shift), or None
    counterparts: tuple[str, ...] | None = None

    def without(self, *generators: str) -> Features:
        """These features less the named generators' images (detection's generated side leaves
        out the known splits' class ``real``; zero shot's folds, the held-out generators);
        labels keep their indices."""
        dropped = [self.generator_ids.index(g) for g in generators if g in self.generator_ids]
        if not dropped:
            return self
        keep = ~torch.isin(self.labels, torch.tensor(dropped, dtype=self.labels.dtype))
        return Features(
            self.split, self.values[keep], self.labels[keep], self.generator_ids, self.counterparts
        )


class AttributionMethod(L.LightningModule):
    """Base class: features by ``predict_step``; a linear probe head; max-softmax open-set score."""

    capabilities: ClassVar[frozenset[str]] = CAPABILITIES
    #: hyper-parameters that only post-process features (how zero shot compares them), not part
    #: of :meth:`method_key`
    post_feature_hparams: ClassVar[tuple[str, ...]] = ()
    #: shown on the leaderboard, e.g. "random init (no pretrained weights found)"
    weights_note: str = ""
    #: the image size its extractor was trained at, where it is fixed (None: any size); larger
    #: test images can then be featurised as windows of this size (the runner's ``test_crops``)
    input_size: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.head: LinearProbe | None = None

    # -- features -------------------------------------------------------------------------
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] (N x 3 x H x W) -> features (N x D)."""
        raise NotImplementedError

    def predict_step(self, batch: Any, batch_idx: int = 0) -> torch.Tensor:
        """Features of a batch, in ``channels_last`` layout: the CPU convolutions run about a
        quarter faster in it (``python -m benchmarks.speed.featurise``), a ViT the same."""
        images = batch[0] if isinstance(batch, list | tuple) else batch
        return self.features(images.contiguous(memory_format=torch.channels_last))

    @classmethod
    def input_files(cls, args: dict[str, Any]) -> dict[str, str]:
        """Files this method reads beyond its arguments (a shipped checkpoint, a training
        config), by name, with their content digests: part of a cell's recorded configuration,
        so that a changed file makes its cells run again (default: none)."""
        return {}

    @classmethod
    def unavailable(cls, args: dict[str, Any]) -> str | None:
        """Why the method cannot give its real figures on this machine (its pretrained weights
        are absent and cannot be fetched), or None. A run of every method leaves such a method
        out with this line; naming it explicitly makes the reason an error (default: None)."""
        return None

    @classmethod
    def fetch_weights(cls, args: dict[str, Any]) -> Path | None:
        """Bring the method's pretrained weights into their local cache (downloading where
        needed) and return the file; None for a method with nothing to fetch (default)."""
        return None

    def method_key(self) -> str:
        """Identifies the feature extractor (config and, for trained ones, weights) for caching.
        Hyper-parameters in :attr:`post_feature_hparams` are left out: they change what is done
        with the features, not the features, so every value shares one cache entry."""
        return config_hash({"class": type(self).__qualname__, "hparams": self.feature_hparams()})

    def feature_hparams(self) -> dict[str, Any]:
        """The hyper-parameters the features (and any trained weights) depend on: all but
        :attr:`post_feature_hparams`."""
        return {k: v for k, v in self.hparams.items() if k not in self.post_feature_hparams}

    # -- fitting --------------------------------------------------------------------------
    def fit_extractor(self, train: Any, val: Any, seed: int) -> dict[str, Any]:
        """Train the feature extractor on known generators (default: nothing to train)."""
        return {}

    def fit_head(self, train: Features, val: Features, seed: int) -> dict[str, Any]:
        """Fit the closed-set head on known-train features; select it on known-val features."""
        self.head = LinearProbe(seed=seed)
        return self.head.fit(train.values, train.labels, val.values, val.labels)

    # -- outputs --------------------------------------------------------------------------
    def _fitted_head(self) -> LinearProbe:
        if self.head is None:
            raise RuntimeError(f"{type(self).__name__}: fit_head must run before logits or scores")
        return self.head

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self._fitted_head().logits(features)

    def open_set_score(self, features: torch.Tensor) -> torch.Tensor:
        """Maximum softmax probability (Hendrycks & Gimpel 2017): higher means 'known'."""
        return self.logits(features).softmax(dim=1).max(dim=1).values

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """Zero-shot embedding: features standardised with known-train statistics."""
        return self._fitted_head().standardise(features)
