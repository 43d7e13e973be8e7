"""Spectral baseline: the log-magnitude spectrum of an image's high-pass residual.

GAN up-sampling leaves periodic peaks in the spectrum (Zhang, Karaman & Chang, "Detecting
and simulating artifacts in GAN fake images", WIFS 2019; Frank et al., "Leveraging frequency
analysis for deep fake image recognition", ICML 2020, who use the DCT). Here: residual of a
fixed denoiser (3x3 median by default), 2-D FFT, log-magnitude, averaged over colour
channels -> an H*W feature. Closed and open set use a logistic-regression probe on it (its C
chosen on known-val images); zero shot uses the standardised spectrum itself as the
embedding (``zero_shot_embedding: standardised``; ``whitened`` whitens it by the known
generators' within-generator covariance, the flagship's option:
:mod:`lightning_modules.zero_shot_embedding`). Nothing is trained and nothing is scaled
down: it runs as published, on 32x32.
"""

from __future__ import annotations

import torch

from core.images import DENOISERS, log_spectrum
from lightning_modules import register_method
from lightning_modules.base import AttributionMethod
from lightning_modules.zero_shot_embedding import WhitenableZeroShot


@register_method("spectral")
class SpectralMethod(WhitenableZeroShot, AttributionMethod):
    """Log-magnitude FFT of the denoiser residual + logistic-regression probe (Frank et al. 2020)."""

    weights_note = "no learned weights"  # the probe is fitted per run; no network weights
    own_embeddings = ("standardised",)

    def __init__(
        self,
        denoiser: str = "median3",
        zero_shot_embedding: str = "standardised",
        whitening_shrinkage: float = 1e-3,
    ) -> None:
        super().__init__()
        if denoiser not in DENOISERS:
            raise ValueError(f"unknown denoiser {denoiser!r}; valid: {DENOISERS}")
        self.choose_zero_shot_embedding(zero_shot_embedding, whitening_shrinkage)
        self.save_hyperparameters()

    def own_embedding(self, features: torch.Tensor) -> torch.Tensor:
        return AttributionMethod.embed(self, features)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return log_spectrum(images, self.hparams.denoiser).flatten(1)
