"""Fidelity and diversity of synthetic models, the two checks of Yang et al. (arXiv 2307.15977).

* **Fidelity** - Fréchet Frequency Distance (FFD): the Fréchet distance between Gaussians
  fitted to the residual log-spectra of real generators' images and of synthetic models'
  images, as FID does with Inception features (Heusel et al. 2017). Lower is better: the
  synthetic fingerprints look like real ones.
* **Diversity** - how different synthetic models are from each other: the mean, over pairs
  of models, of the RMS difference between their average residual log-spectra (the
  per-model fingerprint). Higher is better. The paper's exact diversity formula is not in
  its public code; this is our definition, chosen so that it reads in the same units as the
  spectra (nats) and is exact for two models whose spectra differ by a constant ``c`` (= |c|).
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric

from core.images import log_spectrum


def frechet_distance(
    mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor
) -> torch.Tensor:
    """``|mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2))`` in float64.

    The trace of the matrix square root is the sum of square roots of the eigenvalues of
    ``C1 C2`` (similar to a PSD matrix, so they are real and >= 0 up to round-off).

    Example:
        >>> frechet_distance(torch.zeros(1), torch.eye(1), torch.ones(1), 4 * torch.eye(1))
        tensor(2., dtype=torch.float64)
    """
    mu1, mu2, cov1, cov2 = (t.double() for t in (mu1, mu2, cov1, cov2))
    eigenvalues = torch.linalg.eigvals(cov1 @ cov2).real.clamp(min=0)
    return (mu1 - mu2).pow(2).sum() + cov1.trace() + cov2.trace() - 2 * eigenvalues.sqrt().sum()


def _gaussian(total: torch.Tensor, outer: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = total / n
    cov = (outer - n * torch.outer(mean, mean)) / (n - 1)
    return mean, cov


class FrechetFrequencyDistance(Metric):
    """FFD between real and synthetic images' residual spectra (fidelity; lower is better).

    ``update(images, real=True|False)`` as torchmetrics' FID. States are sums and sums of outer
    products, so the metric reduces exactly across processes.

    Example:
        >>> metric = FrechetFrequencyDistance(resolution=8)
        >>> gen = torch.Generator().manual_seed(0)
        >>> images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8, generator=gen)
        >>> metric.update(images, real=True); metric.update(images, real=False)
        >>> abs(round(float(metric.compute()), 6))
        0.0
    """

    higher_is_better = False
    is_differentiable = False
    full_state_update = False

    def __init__(self, resolution: int = 32, denoiser: str = "median3", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.denoiser = denoiser
        dim = resolution * resolution
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", torch.zeros(dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_outer", torch.zeros(dim, dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_n", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, images: torch.Tensor, real: bool) -> None:
        features = log_spectrum(images, self.denoiser).flatten(1).double()
        side = "real" if real else "fake"
        setattr(self, f"{side}_sum", getattr(self, f"{side}_sum") + features.sum(0))
        setattr(self, f"{side}_outer", getattr(self, f"{side}_outer") + features.T @ features)
        setattr(self, f"{side}_n", getattr(self, f"{side}_n") + features.shape[0])

    def compute(self) -> torch.Tensor:
        if self.real_n < 2 or self.fake_n < 2:
            raise ValueError("FFD needs at least two real and two synthetic images")
        return frechet_distance(
            *_gaussian(self.real_sum, self.real_outer, self.real_n),
            *_gaussian(self.fake_sum, self.fake_outer, self.fake_n),
        )


def pairwise_fingerprint_distance(fingerprints: torch.Tensor) -> torch.Tensor:
    """Mean over pairs i < j of the RMS difference between per-model fingerprints (M x D).

    Example:
        >>> round(float(pairwise_fingerprint_distance(torch.tensor([[0.0, 0.0], [3.0, 3.0]]))), 6)
        3.0
    """
    if fingerprints.shape[0] < 2:
        raise ValueError("diversity needs at least two models")
    f = fingerprints.double()
    models = f.shape[0]
    if models <= PAIR_CHUNK:  # one matrix, as the recorded figures were computed
        upper = torch.triu_indices(models, models, offset=1)
        return (torch.cdist(f, f) / f.shape[1] ** 0.5)[upper[0], upper[1]].mean()
    total = torch.zeros((), dtype=torch.float64, device=f.device)
    for start in range(0, models, PAIR_CHUNK):  # rows by chunk: memory linear in models, not M^2
        rows = torch.cdist(f[start : start + PAIR_CHUNK], f[start + 1 :])
        upper = torch.ones_like(rows, dtype=torch.bool).triu_(diagonal=0)  # row i pairs j > i only
        total += rows[upper].sum()
    return total / (models * (models - 1) // 2) / f.shape[1] ** 0.5


#: fingerprints compared with every later one at once (up to this many models: one matrix)
PAIR_CHUNK = 256


class MeanResidualSpectrum(Metric):
    """Each model's (generator's) mean log-magnitude spectrum of the noise residual, centred:
    the picture of a generator's fingerprint (Marra et al. 2019; Wang et al. 2020 average it
    per generator to show up-sampling peaks). ``update(images, model_index)`` with
    ``model_index`` in ``[0, num_models)``; ``compute`` gives ``num_models x R x R`` (NaN for a
    model that got no image) and ``counts`` says how many images each mean is over.

    An empty batch changes nothing: a generator may have no image in one split (a known
    generator of fewer than 5 images has none in ``known_test``, which takes every 5th), and
    its mean is then over the images it has elsewhere - or NaN where it has none at all."""

    is_differentiable = False
    full_state_update = False

    def __init__(
        self, num_models: int, resolution: int = 32, denoiser: str = "median3", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.denoiser, self.num_models, self.resolution = denoiser, num_models, resolution
        dim = resolution * resolution
        self.add_state("sums", torch.zeros(num_models, dim, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("counts", torch.zeros(num_models, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, images: torch.Tensor, model_index: torch.Tensor) -> None:
        if model_index.numel() == 0:
            return
        if int(model_index.max()) >= self.num_models or int(model_index.min()) < 0:
            raise ValueError(
                f"model_index must lie in [0, {self.num_models}), got {model_index.unique().tolist()}"
            )
        features = log_spectrum(images, self.denoiser).flatten(1).double()
        self.sums.index_add_(0, model_index, features)
        self.counts.index_add_(0, model_index, torch.ones_like(model_index, dtype=torch.float64))

    def compute(self) -> torch.Tensor:
        means = self.sums / self.counts[:, None]  # 0 / 0 = NaN for a model with no image
        return means.reshape(self.num_models, self.resolution, self.resolution)


class FingerprintDiversity(MeanResidualSpectrum):
    """Diversity of a set of models: mean pairwise RMS distance of their mean residual spectra.

    ``update(images, model_index)`` with ``model_index`` in ``[0, num_models)``; models that got
    no image are left out. Higher is better.
    """

    higher_is_better = True

    def compute(self) -> torch.Tensor:
        seen = self.counts > 0
        return pairwise_fingerprint_distance(super().compute().flatten(1)[seen])
