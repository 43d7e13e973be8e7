"""Noise-residual fingerprint (Marra, Gragnaniello, Verdoliva & Poggi, "Do GANs leave
artificial fingerprints?", MIPR 2019).

An image's noise residual is ``x - denoise(x)``; a generator's fingerprint is the average
residual of its images (content averages out, the generator's trace stays). An image is
attributed to the fingerprint with the highest normalised correlation with its residual;
the open-set score is that best correlation; for zero shot the residual itself is the
embedding, so cosine similarity *is* the normalised correlation and the gallery centroid is
the averaged fingerprint, exactly as in the paper (``zero_shot_embedding: raw``; ``whitened``
whitens the residuals by the known generators' within-generator covariance first, the
flagship's option: :mod:`lightning_modules.zero_shot_embedding`).

Scaled for CPU: the paper's denoiser is a trained one (BM3D-like / DnCNN); here it is a
fixed 3x3 median or Gaussian filter (configurable). Nothing is trained.
"""

from __future__ import annotations

from typing import Any

import torch

from core.images import DENOISERS, residual
from core.metrics.attribution import CHUNK
from lightning_modules import register_method
from lightning_modules.base import AttributionMethod, Features
from lightning_modules.zero_shot_embedding import WhitenableZeroShot


def _normalise(x: torch.Tensor) -> torch.Tensor:
    """Zero-mean, unit-norm rows: the dot product of two is their normalised correlation."""
    x = x.float()
    centred = x - x.mean(dim=1, keepdim=True)
    # F.normalize's own rule (divide by the norm, at least eps), in place: one copy, not two
    return centred.div_(centred.norm(dim=1, keepdim=True).clamp_min(1e-12))


@register_method("noise_residual")
class NoiseResidualMethod(WhitenableZeroShot, AttributionMethod):
    """Averaged denoiser residual per generator, matched by normalised correlation (Marra et al. 2019)."""

    weights_note = "no learned weights"

    def __init__(
        self,
        denoiser: str = "median3",
        temperature: float = 0.05,
        zero_shot_embedding: str = "raw",
        whitening_shrinkage: float = 1e-3,
    ) -> None:
        super().__init__()
        if denoiser not in DENOISERS:
            raise ValueError(f"unknown denoiser {denoiser!r}; valid: {DENOISERS}")
        self.choose_zero_shot_embedding(zero_shot_embedding, whitening_shrinkage)
        self.save_hyperparameters()
        self.fingerprints: torch.Tensor | None = None

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return residual(images, self.hparams.denoiser).flatten(1)

    def fit_head(self, train: Features, val: Features, seed: int) -> dict[str, Any]:
        """Fingerprint per known generator = mean residual of its training images."""
        classes = len(train.generator_ids)
        sums = torch.zeros(classes, train.values.shape[1]).index_add_(0, train.labels, train.values.float())
        counts = torch.bincount(train.labels, minlength=classes).clamp(min=1)
        self.fingerprints = _normalise(sums / counts[:, None])
        self.fit_whitening(train)
        val_accuracy = float((self.correlations(val.values).argmax(1) == val.labels).float().mean())
        return {"val_accuracy": val_accuracy}

    def correlations(self, features: torch.Tensor) -> torch.Tensor:
        if self.fingerprints is None:
            raise RuntimeError("fit_head must run before correlations")
        # in chunks of rows: a normalised copy of every feature cost gigabytes at scale
        return torch.cat([_normalise(chunk) @ self.fingerprints.T for chunk in features.split(CHUNK)])

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.correlations(features) / self.hparams.temperature

    def open_set_score(self, features: torch.Tensor) -> torch.Tensor:
        return self.correlations(features).max(dim=1).values

    def own_embedding(self, features: torch.Tensor) -> torch.Tensor:
        return _normalise(features)
