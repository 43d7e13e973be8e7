"""Image fingerprints: the denoiser residual and its log-magnitude spectrum.

A generator's fingerprint is what it leaves *beyond* image content; the usual estimate
(Marra et al. 2019; Yang et al. 2023 use a learned denoiser then a DFT) is the residual
``x - denoise(x)``. Here the denoiser is fixed (3x3 median by default, or a Gaussian), so
the metrics need no training and read the same on every machine.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

DENOISERS = ("median3", "gaussian")


def as_float_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] or float [-1, 1] images -> float [-1, 1], N x C x H x W."""
    if images.dtype == torch.uint8:
        return images.float() / 127.5 - 1
    return images.float()


def denoise(images: torch.Tensor, denoiser: str = "median3") -> torch.Tensor:
    if denoiser == "median3":
        padded = F.pad(images, (1, 1, 1, 1), mode="reflect")
        patches = padded.unfold(2, 3, 1).unfold(3, 3, 1)
        return patches.reshape(*patches.shape[:4], 9).median(dim=-1).values
    if denoiser == "gaussian":
        kernel = torch.tensor([1.0, 2.0, 1.0])
        kernel = (kernel[:, None] * kernel[None, :]) / 16
        weight = kernel.expand(images.shape[1], 1, 3, 3).to(images)
        return F.conv2d(F.pad(images, (1, 1, 1, 1), mode="reflect"), weight, groups=images.shape[1])
    raise ValueError(f"unknown denoiser {denoiser!r}; valid: {DENOISERS}")


def residual(images: torch.Tensor, denoiser: str = "median3") -> torch.Tensor:
    """The noise residual ``x - denoise(x)`` of images (uint8 or [-1, 1] floats)."""
    x = as_float_images(images)
    return x - denoise(x, denoiser)


def log_spectrum(images: torch.Tensor, denoiser: str = "median3", eps: float = 1e-4) -> torch.Tensor:
    """Per-image log-magnitude DFT of the residual, averaged over channels, centred: N x H x W."""
    spectrum = torch.fft.fftshift(torch.fft.fft2(residual(images, denoiser)), dim=(-2, -1))
    return torch.log(spectrum.abs() + eps).mean(dim=1)


def magnitude_spectrum(residuals: torch.Tensor, log: bool = False, standardise: bool = False) -> torch.Tensor:
    """Per-channel 2-D FFT magnitude of residuals, N x C x H x W, same size as the input.

    The flagship's official input (Yang et al., arXiv 2307.15977, public code): ``abs(fft2)``
    of the denoiser residual, per channel, *not* shifted, no log. ``log`` takes
    ``log(1 + magnitude)`` (tames the DC term, which dominates the raw magnitude);
    ``standardise`` scales each image-channel to zero mean and unit variance over frequencies.
    """
    spectrum = torch.fft.fft2(residuals.float()).abs()
    if log:
        spectrum = torch.log1p(spectrum)
    if standardise:
        mean = spectrum.mean(dim=(-2, -1), keepdim=True)
        spectrum = (spectrum - mean) / spectrum.std(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
    return spectrum
