"""Network designs of the zoo's generators, at 32x32 (any power-of-two resolution >= 8).

Each design is one of the upsampling / normalisation / conditioning patterns that real
generators use and that leave distinct traces in their images: transposed convolutions
(DCGAN, Radford et al. 2016), nearest or bilinear upsampling + convolution (Odena et al.
2016's fix for checkerboards), sub-pixel convolution (Shi et al. 2016), residual up-blocks
(SNGAN, Miyato et al. 2018), style modulation with weight demodulation and noise inputs
(StyleGAN2, Karras et al. 2020), a U-Net noise predictor (DDPM, Ho et al. 2020) and causal,
shifted convolutions (PixelCNN++, Salimans et al. 2017). Widths are small for CPU training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

Z_DIM = 64


def _stages(resolution: int) -> int:
    stages = int(math.log2(resolution // 4))
    if 4 * 2**stages != resolution or stages < 1:
        raise ValueError(f"zoo resolution must be 4 * 2^k >= 8, got {resolution}")
    return stages


class _FromLatent(nn.Module):
    """z -> a 4x4 feature map, the stem every latent generator here shares."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.fc = nn.Linear(Z_DIM, channels * 16)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(z).view(-1, self.channels, 4, 4)


def _widths(stages: int, top: int = 128) -> list[int]:
    return [max(top // 2**i, 32) for i in range(stages + 1)]


class DCGANGenerator(nn.Module):
    """Transposed-convolution generator (k4 s2), BatchNorm + ReLU, tanh output."""

    def __init__(self, resolution: int = 32) -> None:
        super().__init__()
        widths = _widths(_stages(resolution))
        layers: list[nn.Module] = [_FromLatent(widths[0]), nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for cin, cout in zip(widths[:-1], widths[1:-1], strict=False):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-2], 3, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class UpsampleConvGenerator(nn.Module):
    """Resize (nearest or bilinear) then 3x3 convolution at each stage, BatchNorm + ReLU."""

    def __init__(self, resolution: int = 32, mode: str = "nearest") -> None:
        super().__init__()
        widths = _widths(_stages(resolution))
        layers: list[nn.Module] = [_FromLatent(widths[0]), nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Upsample(scale_factor=2, mode=mode), nn.Conv2d(cin, cout, 3, 1, 1, bias=False)]
            layers += [nn.BatchNorm2d(cout), nn.ReLU()]
        layers += [nn.Conv2d(widths[-1], 3, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class PixelShuffleGenerator(nn.Module):
    """Sub-pixel convolution: 3x3 conv to 4x channels, then PixelShuffle(2), at each stage.

    ``icnr``: initialise each sub-pixel conv so that the four sub-pixels of an output channel
    start with one kernel (ICNR, Aitken et al. 2017, arXiv 1707.02937): at initialisation the
    stage is a nearest-neighbour up-sampling after a conv, with no checkerboard. Off by default
    (the zoo's builds 1-4 trained without it); a recipe turns it on through ``network``."""

    def __init__(self, resolution: int = 32, icnr: bool = False) -> None:
        super().__init__()
        widths = _widths(_stages(resolution))
        layers: list[nn.Module] = [_FromLatent(widths[0]), nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            conv = nn.Conv2d(cin, 4 * cout, 3, 1, 1, bias=False)
            if icnr:
                with torch.no_grad():  # PixelShuffle takes channel c * 4 + k to sub-pixel k of c
                    conv.weight.copy_(conv.weight[::4].repeat_interleave(4, dim=0))
            layers += [conv, nn.PixelShuffle(2), nn.BatchNorm2d(cout), nn.ReLU()]
        layers += [nn.Conv2d(widths[-1], 3, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class _ResidualUp(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.ReLU(),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(cin, cout, 3, 1, 1),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1),
        )
        self.skip = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(cin, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


class ResidualGenerator(nn.Module):
    """SNGAN-style generator: pre-activation residual up-blocks with 1x1 shortcut."""

    def __init__(self, resolution: int = 32, width: int = 64) -> None:
        super().__init__()
        stages = _stages(resolution)
        self.stem = _FromLatent(width)
        self.blocks = nn.Sequential(*[_ResidualUp(width, width) for _ in range(stages)])
        self.head = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, 3, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(z)))


class _EqualLinear(nn.Module):
    """StyleGAN's equalised-learning-rate linear layer: weights stored as N(0, 1) / lr_mul and
    scaled at run time by lr_mul / sqrt(fan_in), so that Adam's step on the effective weight is
    ``lr * lr_mul`` and every layer learns at the same pace whatever its fan-in (Karras et al.
    2018, 2020). The mapping network uses lr_mul 0.01; without it (and without a unit-variance
    w) the styles barely vary with z and the generator starts, and stays, collapsed."""

    def __init__(self, cin: int, cout: int, bias_init: float = 0.0, lr_mul: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), bias_init / lr_mul))
        self.scale, self.lr_mul = lr_mul / math.sqrt(cin), lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class _MappingNetwork(nn.Module):
    """z -> w: normalise z's second moment, then equalised-lr layers with lr_mul 0.01 and
    LeakyReLU(0.2) scaled by sqrt(2) so that w keeps unit variance (StyleGAN2 uses 8 layers)."""

    def __init__(self, w_dim: int, layers: int = 3, lr_mul: float = 0.01) -> None:
        super().__init__()
        dims = [Z_DIM] + [w_dim] * layers
        self.layers = nn.ModuleList(
            _EqualLinear(a, b, lr_mul=lr_mul) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2) * math.sqrt(2)
        return x


class _ModulatedConv(nn.Module):
    """StyleGAN2 convolution: per-sample weight modulation by a style (an equalised-lr affine map
    of w, bias 1), then demodulation; the weight is equalised-lr too."""

    def __init__(self, cin: int, cout: int, kernel: int, w_dim: int, demodulate: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.scale = 1 / math.sqrt(cin * kernel * kernel)
        self.affine = _EqualLinear(w_dim, cin, bias_init=1.0)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.demodulate, self.padding = demodulate, kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        batch, cin, h, width = x.shape
        style = self.affine(w).view(batch, 1, cin, 1, 1)
        weight = self.weight.unsqueeze(0) * self.scale * style
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        weight = weight.view(-1, cin, *self.weight.shape[2:])
        out = F.conv2d(x.reshape(1, -1, h, width), weight, padding=self.padding, groups=batch)
        return out.view(batch, -1, h, width) + self.bias.view(1, -1, 1, 1)


class StyleGenerator(nn.Module):
    """A small StyleGAN2: mapping MLP, learned constant, modulated convs with noise inputs, skip
    toRGB. Scaled down for CPU: 3 mapping layers (8 in the paper), widths ``width`` halving
    from 8x8 down to 32 channels (512 in the paper), w_dim ``w_dim`` (512),
    ``convs_per_resolution`` modulated convs per resolution (two in the paper).

    Its weights are equalised-lr (stored at unit scale), so it trains at the paper's generator
    learning rate, 10x the 2e-4 of the zoo's other GANs, and with the paper's Adam betas
    (0, 0.99); at 2e-4 it learned about 30x slower than its critic and drew blobs."""

    lr_multiplier = 10.0
    adam_betas = (0.0, 0.99)

    def __init__(
        self, resolution: int = 32, width: int = 64, w_dim: int = 64, convs_per_resolution: int = 1
    ) -> None:
        super().__init__()
        stages = _stages(resolution)
        self.mapping = _MappingNetwork(w_dim)
        self.const = nn.Parameter(torch.randn(1, width, 4, 4))
        widths = [max(width // 2 ** max(i - 1, 0), 32) for i in range(stages + 1)]
        self.blocks = nn.ModuleList()
        for i, cout in enumerate(widths):
            cin = widths[max(i - 1, 0)]
            chans = [cin] + [cout] * convs_per_resolution
            self.blocks.append(
                nn.ModuleList(
                    _ModulatedConv(a, b, 3, w_dim) for a, b in zip(chans[:-1], chans[1:], strict=True)
                )
            )
        self.to_rgb = nn.ModuleList([_ModulatedConv(c, 3, 1, w_dim, demodulate=False) for c in widths])
        self.noise_strength = nn.Parameter(torch.zeros(len(widths), convs_per_resolution))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = self.mapping(z)
        x = self.const.expand(z.shape[0], -1, -1, -1)
        rgb = None
        for i, (convs, to_rgb) in enumerate(zip(self.blocks, self.to_rgb, strict=True)):
            if i > 0:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
                rgb = F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)
            for j, conv in enumerate(convs):
                x = conv(x, w)
                x = x + self.noise_strength[i, j] * torch.randn_like(x[:, :1])
                x = F.leaky_relu(x, 0.2)
            rgb = to_rgb(x, w) if rgb is None else rgb + to_rgb(x, w)
        return torch.tanh(rgb)


class ConvDiscriminator(nn.Module):
    """The critic every GAN here shares: strided 4x4 convs, LeakyReLU, optional spectral norm."""

    def __init__(self, resolution: int = 32, spectral_norm: bool = True) -> None:
        super().__init__()
        stages = _stages(resolution)
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        widths = [3] + [min(64 * 2**i, 256) for i in range(stages)]
        layers: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            layers += [wrap(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = wrap(nn.Linear(widths[-1] * 16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1)).squeeze(1)


class ConvEncoder(nn.Module):
    """VAE encoder: strided 3x3 convs to a 4x4 map, then mean and log-variance heads."""

    def __init__(self, resolution: int = 32) -> None:
        super().__init__()
        widths = [3] + [min(32 * 2**i, 256) for i in range(_stages(resolution))]
        layers: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.mean = nn.Linear(widths[-1] * 16, Z_DIM)
        self.log_var = nn.Linear(widths[-1] * 16, Z_DIM)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x).flatten(1)
        return self.mean(h), self.log_var(h)


class _TimeResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, t_dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, cin), nn.Conv2d(cin, cout, 3, 1, 1)
        self.time = nn.Linear(t_dim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(8, cout), nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.time(t)[:, :, None, None]
        return self.conv2(F.silu(self.norm2(h))) + self.skip(x)


class UNet(nn.Module):
    """DDPM noise predictor: residual blocks with GroupNorm + SiLU and a sinusoidal time embedding."""

    def __init__(self, resolution: int = 32, widths: tuple[int, ...] = (32, 32, 48)) -> None:
        super().__init__()
        _stages(resolution)
        t_dim = 128
        self.t_dim = t_dim
        self.time_mlp = nn.Sequential(nn.Linear(t_dim, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        self.stem = nn.Conv2d(3, widths[0], 3, 1, 1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            self.down.append(_TimeResBlock(cin, cout, t_dim))
            self.downsample.append(nn.Conv2d(cout, cout, 3, 2, 1))
        self.middle = _TimeResBlock(widths[-1], widths[-1], t_dim)
        self.up = nn.ModuleList()
        for cin, cout in zip(reversed(widths[1:]), reversed(widths[:-1]), strict=True):
            self.up.append(_TimeResBlock(cin * 2, cout, t_dim))
        self.head = nn.Sequential(nn.GroupNorm(8, widths[0]), nn.SiLU(), nn.Conv2d(widths[0], 3, 3, 1, 1))

    def embed_time(self, t: torch.Tensor) -> torch.Tensor:
        half = self.t_dim // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / half)
        angles = t.float()[:, None] * freqs[None]
        return self.time_mlp(torch.cat([angles.sin(), angles.cos()], dim=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.embed_time(t)
        h = self.stem(x)
        skips = []
        for block, down in zip(self.down, self.downsample, strict=True):
            h = block(h, temb)
            skips.append(h)
            h = down(h)
        h = self.middle(h, temb)
        for block in self.up:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(torch.cat([h, skips.pop()], dim=1), temb)
        return self.head(h)


def _down_shift(x: torch.Tensor) -> torch.Tensor:
    """Row i takes row i-1's values (zeros at the top)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def _right_shift(x: torch.Tensor) -> torch.Tensor:
    """Column j takes column j-1's values (zeros at the left)."""
    return F.pad(x, (1, 0, 0, 0))[:, :, :, :-1]


def _concat_elu(x: torch.Tensor) -> torch.Tensor:
    return F.elu(torch.cat([x, -x], dim=1))


class _DownShiftedConv(nn.Conv2d):
    """Output (i, j) sees input rows i-kh+1..i, columns j-kw//2..j+kw//2: nothing below row i."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int] = (2, 3), stride: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride)
        self.shift_pad = (kernel[1] // 2, kernel[1] // 2, kernel[0] - 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.shift_pad))


class _DownRightShiftedConv(nn.Conv2d):
    """Output (i, j) sees input rows i-kh+1..i, columns j-kw+1..j: nothing below or to the right."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int] = (2, 2), stride: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride)
        self.shift_pad = (kernel[1] - 1, 0, kernel[0] - 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.shift_pad))


class _GatedResnet(nn.Module):
    """PixelCNN++'s gated residual block: x + a * sigmoid(b), [a, b] = conv(elu(conv(elu(x)) + nin(a)))."""

    def __init__(self, width: int, conv: type[nn.Conv2d], aux_width: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv_in = conv(2 * width, width)
        self.aux = nn.Conv2d(2 * aux_width, width, 1) if aux_width else None
        self.dropout = nn.Dropout(dropout)
        self.conv_out = conv(2 * width, 2 * width)

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv_in(_concat_elu(x))
        if self.aux is not None and aux is not None:
            h = h + self.aux(_concat_elu(aux))
        a, b = self.conv_out(self.dropout(_concat_elu(h))).chunk(2, dim=1)
        return x + a * torch.sigmoid(b)


class PixelCNN(nn.Module):
    """PixelCNN++ (Salimans et al. 2017) over raster order, with categorical sub-pixels.

    Two streams with no blind spot: one sees the rows above a pixel (down-shifted convs), one
    also the pixels to its left (down-right-shifted convs). Both pass through gated residual
    blocks on a U-Net of ``resolutions`` scales (stride-2 shifted convs down, skip connections
    into the up pass), so each pixel is predicted from the whole image before it, which the
    plain masked-conv stack (revision 1: a 7-row reach and a blind spot to the upper right)
    could not do: it drew face-toned texture on faces and digits' strokes only at the top.

    Scaled for CPU: ``width`` 16 by default, 32 in the zoo's recipe (160 in the
    paper; at 16 the digits models drew bars and arcs), ``blocks`` 1 per scale (5), no dropout
    (0.5), nearest upsampling instead of shifted transposed convs (both keep causality; a
    test checks it), and each sub-pixel a categorical over ``levels`` intensity levels instead
    of a discretised logistic mixture (the three channels of a pixel are predicted together,
    conditionally independent given the pixels before it, not channel-autoregressively). The
    input carries PixelCNN++'s constant-ones channel, so the zero padding reads as a border.
    """

    def __init__(
        self, resolution: int = 32, width: int = 16, blocks: int = 1, scales: int = 3, levels: int = 16
    ) -> None:
        super().__init__()
        if resolution % 2 ** (scales - 1):
            raise ValueError(f"PixelCNN: resolution {resolution} does not halve {scales - 1} times")
        self.levels, self.scales, self.blocks = levels, scales, blocks
        self.first_up = _DownShiftedConv(4, width, (2, 3))
        # the up-left stream starts from the row above (1x3) plus the pixels to the left (2x1)
        self.first_up_left_above = _DownShiftedConv(4, width, (1, 3))
        self.first_up_left_left = _DownRightShiftedConv(4, width, (2, 1))
        self.down_up = nn.ModuleList(_GatedResnet(width, _DownShiftedConv) for _ in range(scales * blocks))
        self.down_up_left = nn.ModuleList(
            _GatedResnet(width, _DownRightShiftedConv, width) for _ in range(scales * blocks)
        )
        self.halve_up = nn.ModuleList(_DownShiftedConv(width, width, (2, 3), 2) for _ in range(scales - 1))
        self.halve_up_left = nn.ModuleList(
            _DownRightShiftedConv(width, width, (2, 2), 2) for _ in range(scales - 1)
        )
        self.up_up = nn.ModuleList(
            _GatedResnet(width, _DownShiftedConv, width) for _ in range(scales * (blocks + 1))
        )
        self.up_up_left = nn.ModuleList(
            _GatedResnet(width, _DownRightShiftedConv, 2 * width) for _ in range(scales * (blocks + 1))
        )
        self.out = nn.Conv2d(width, 3 * levels, 1)

    @property
    def row_multiple(self) -> int:
        """Inputs must have a multiple of this many rows (the scales halve them)."""
        return 2 ** (self.scales - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
        up = _down_shift(self.first_up(x))
        up_left = _down_shift(self.first_up_left_above(x)) + _right_shift(self.first_up_left_left(x))
        ups, up_lefts, k = [up], [up_left], 0
        for scale in range(self.scales):
            for _ in range(self.blocks):
                up = self.down_up[k](up)
                up_left = self.down_up_left[k](up_left, up)
                ups.append(up)
                up_lefts.append(up_left)
                k += 1
            if scale < self.scales - 1:
                up, up_left = self.halve_up[scale](up), self.halve_up_left[scale](up_left)
                ups.append(up)
                up_lefts.append(up_left)
        for k in range(len(self.up_up)):
            if k and k % (self.blocks + 1) == 0:  # the next scale up
                up = F.interpolate(up, scale_factor=2, mode="nearest")
                up_left = F.interpolate(up_left, scale_factor=2, mode="nearest")
            up = self.up_up[k](up, ups.pop())
            up_left = self.up_up_left[k](up_left, torch.cat([up, up_lefts.pop()], dim=1))
        logits = self.out(F.elu(up_left))
        return logits.view(x.shape[0], 3, self.levels, *x.shape[2:])
