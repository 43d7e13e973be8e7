"""A DnCNN-style residual denoiser (Zhang et al., "Beyond a Gaussian Denoiser", TIP 2017).

The network predicts the *noise* of its input (residual learning), so ``x - net(x)`` is the
denoised image and ``net(x)`` the residual a fingerprint is read from - the role GRIP's
17-layer, 64-channel DnCNN plays in the flagship's official code. Scaled for CPU: ``depth``
8 and ``width`` 32 by default, no batch norm (so the residual of an image never depends on
its batch), zero "same" padding so that it runs at 32 px and keeps the input size.
"""

from __future__ import annotations

import torch
from torch import nn

from core.images import DENOISERS as FIXED_DENOISERS
from core.images import as_float_images, denoise


class DnCNN(nn.Module):
    """conv-ReLU, ``depth - 2`` x (conv-ReLU), conv: images in [-1, 1] -> their predicted noise."""

    def __init__(self, depth: int = 8, width: int = 32, channels: int = 3) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"DnCNN depth must be >= 2, got {depth}")
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(width, channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)


class Residual(nn.Module):
    """``images -> noise residual`` by a named denoiser: a fixed filter or a frozen DnCNN.

    A learned denoiser's weights are frozen (``requires_grad=False``, always in eval mode): it
    is a fixed pre-processing step, as in the paper, never trained by the extractor's loss.
    """

    def __init__(self, name: str = "median3", dncnn: DnCNN | None = None) -> None:
        super().__init__()
        if name not in (*FIXED_DENOISERS, "dncnn"):
            raise ValueError(f"unknown denoiser {name!r}; valid: {(*FIXED_DENOISERS, 'dncnn')}")
        if name == "dncnn" and dncnn is None:
            raise ValueError("the dncnn denoiser needs its trained network")
        self.name = name
        self.dncnn = dncnn.eval().requires_grad_(False) if dncnn is not None else None

    def train(self, mode: bool = True) -> Residual:
        super().train(mode)
        if self.dncnn is not None:
            self.dncnn.eval()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = as_float_images(images)
        if self.dncnn is not None:
            with torch.no_grad():
                return self.dncnn(x)
        return x - denoise(x, self.name)
