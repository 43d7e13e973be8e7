"""Build a synthetic model's network from its spec, and generate its images deterministically.

Network (Yang et al., arXiv 2307.15977, and its public code): ``blocks`` down-sampling blocks
(average-pool, conv-BN-ReLU-conv-BN; channels 3 -> C -> 2C ...) then as many generator blocks
that up-sample back (... 2C -> C -> 3). A generator block holds ``convs_per_block`` convolutions;
the first up-samples. In *post* order a convolution is up -> conv -> norm -> act; in *pre*
order norm -> act -> up -> conv. The output layer is the last block's output (``raw``, as in
the paper), or passes a tanh or a clamp.

Weights: drawn from the spec's initialiser, seeded by the model id. The paper loads saved
weight sets; how they were made is not in its public code, so here (our choice, documented
and configurable) BatchNorm running statistics are *calibrated* once on a fixed batch of real
inputs seeded by the model id, and ``fit_steps`` > 0 additionally fits the model to
reconstruct its input for that many Adam steps (constraining outputs to look like images,
so the fingerprint is a trace on an image rather than a scramble of it). After that the model
is in eval mode, so each image depends only on (model id, image index) - never on which
other images share its batch or worker.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from core.seeding import derive_seed, generator_for
from datamodules.synthetic.space import SyntheticModelSpec


def _activation(name: str) -> nn.Module:
    return {
        "none": nn.Identity(),
        "relu": nn.ReLU(),
        "leaky_relu": nn.LeakyReLU(0.2),
        "sigmoid": nn.Sigmoid(),
        "tanh": nn.Tanh(),
        "gelu": nn.GELU(),
        "silu": nn.SiLU(),
    }[name]


def _norm(name: str, channels: int) -> nn.Module:
    if name == "none":
        return nn.Identity()
    if name == "batch":
        return nn.BatchNorm2d(channels, momentum=None)  # cumulative average: calibration is exact
    if name == "instance":
        return nn.InstanceNorm2d(channels)
    if name == "layer":
        return nn.GroupNorm(1, channels)
    return nn.GroupNorm(math.gcd(8, channels), channels)


class _Upsample(nn.Module):
    def __init__(self, mode: str, channels: int) -> None:
        super().__init__()
        self.mode = mode
        if mode == "transposed":
            self.layer: nn.Module = nn.ConvTranspose2d(channels, channels, 2, 2)
        elif mode == "transposed4":  # DCGAN's up-sampling: overlapping k4 s2 kernels (checkerboard)
            self.layer = nn.ConvTranspose2d(channels, channels, 4, 2, padding=1)
        elif mode == "pixel_shuffle":
            self.layer = nn.Sequential(nn.Conv2d(channels, 4 * channels, 1), nn.PixelShuffle(2))
        else:
            self.layer = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode in ("nearest", "bilinear", "bicubic"):
            align = None if self.mode == "nearest" else False
            return F.interpolate(x, scale_factor=2, mode=self.mode, align_corners=align)
        return self.layer(x)


class _GenConv(nn.Module):
    """One convolution of a generator block, in post or pre order, optionally up-sampling."""

    def __init__(self, spec: SyntheticModelSpec, cin: int, cout: int, upsample: bool) -> None:
        super().__init__()
        groups = (
            spec.groups if cin % spec.groups == 0 and cout % spec.groups == 0 and min(cin, cout) > 3 else 1
        )
        self.conv = nn.Conv2d(
            cin,
            cout,
            spec.kernel_size,
            padding=spec.dilation * (spec.kernel_size // 2),
            dilation=spec.dilation,
            groups=groups,
            padding_mode=spec.padding_mode,
        )
        self.up = _Upsample(spec.upsampling, cin) if upsample else nn.Identity()
        self.pre = spec.order == "pre"
        self.norm = _norm(spec.norm, cin if self.pre else cout)
        self.act = _activation(spec.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre:
            return self.conv(self.up(self.act(self.norm(x))))
        return self.act(self.norm(self.conv(self.up(x))))


class _DownBlock(nn.Sequential):
    def __init__(self, spec: SyntheticModelSpec, cin: int, cout: int) -> None:
        k, pad, mode = spec.kernel_size, spec.kernel_size // 2, spec.padding_mode
        super().__init__(
            nn.AvgPool2d(2),
            nn.Conv2d(cin, cout, k, padding=pad, padding_mode=mode),
            nn.BatchNorm2d(cout, momentum=None),
            nn.ReLU(),
            nn.Conv2d(cout, cout, k, padding=pad, padding_mode=mode),
            nn.BatchNorm2d(cout, momentum=None),
        )


class SyntheticGenerator(nn.Module):
    """The network of one synthetic model; images in and out are in [-1, 1]."""

    def __init__(self, spec: SyntheticModelSpec) -> None:
        super().__init__()
        self.spec = spec
        widths = [3] + [spec.base_channels * 2**i for i in range(spec.blocks)]
        self.down = nn.Sequential(
            *[_DownBlock(spec, a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)]
        )
        gen: list[nn.Module] = []
        for cin, cout in zip(reversed(widths[1:]), reversed(widths[:-1]), strict=True):
            for j in range(spec.convs_per_block):
                last = j == spec.convs_per_block - 1
                gen.append(_GenConv(spec, cin, cout if last else cin, upsample=j == 0))
        self.gen = nn.Sequential(*gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gen(self.down(x))
        if self.spec.output == "tanh":
            return torch.tanh(y)
        if self.spec.output == "clamp":
            return y.clamp(-1, 1)
        return y


def _initialise(model: nn.Module, scheme: str, gen: torch.Generator) -> None:
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            weight = module.weight
            with torch.no_grad():
                if scheme == "kaiming_uniform":
                    fan_in = weight[0].numel()
                    bound = 1 / math.sqrt(fan_in) * math.sqrt(3)
                    weight.uniform_(-bound, bound, generator=gen)
                elif scheme == "kaiming_normal":
                    weight.normal_(0, math.sqrt(2 / weight[0].numel()), generator=gen)
                elif scheme == "xavier_normal":
                    fan_in, fan_out = weight[0].numel(), weight.shape[0] * weight[0, 0].numel()
                    weight.normal_(0, math.sqrt(2 / (fan_in + fan_out)), generator=gen)
                else:
                    flat = torch.randn(weight.shape[0], weight[0].numel(), generator=gen)
                    q, _ = torch.linalg.qr(flat if flat.shape[0] >= flat.shape[1] else flat.T)
                    weight.copy_((q if flat.shape[0] >= flat.shape[1] else q.T).reshape(weight.shape))
                if module.bias is not None:
                    module.bias.uniform_(-0.1, 0.1, generator=gen)


def build_synthetic_model(
    spec: SyntheticModelSpec, calibration_images: torch.Tensor, fit_steps: int = 0, fit_lr: float = 1e-3
) -> SyntheticGenerator:
    """The model for ``spec``, initialised, calibrated (and optionally fitted), in eval mode.

    ``calibration_images`` are real images in [-1, 1] chosen by the caller from the model id.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed("synthetic-init", spec.model_id) % 2**63)
        model = SyntheticGenerator(spec)
    _initialise(model, spec.weight_init, generator_for("synthetic-weights", spec.space, spec.model_id))
    if fit_steps > 0:
        optimiser = torch.optim.Adam(model.parameters(), lr=fit_lr)
        model.train()
        with torch.enable_grad():  # models are built inside image generation's no_grad
            _fit(model, optimiser, calibration_images, fit_steps)
    for module in model.modules():  # exact running statistics from the calibration batch
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(calibration_images)
    return model.eval().requires_grad_(False)


def _fit(model: nn.Module, optimiser: torch.optim.Optimizer, images: torch.Tensor, steps: int) -> None:
    """``steps`` Adam steps of L1 reconstruction of ``images`` (the model's own inputs)."""
    for _ in range(steps):
        loss = F.l1_loss(model(images), images)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> uint8, as a generator's images are when saved: clamped and quantised."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
