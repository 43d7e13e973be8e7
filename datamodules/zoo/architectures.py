"""Network designs of the zoo's generators, at 32x32 (any power-of-two resolution >= 8).

Each design is one of the upsampling / normalisation / conditioning patterns that real
generators use and that leave distinct traces in their images: transposed convolutions
(DCGAN, Radford et al. 2016), nearest or bilinear upsampling + convolution (Odena et al.
2016's fix for checkerboards), sub-pixel convolution (Shi et al. 2016), residual up-blocks
(SNGAN, Miyato et al. 2018), style modulation with weight demodulation and noise inputs
(StyleGAN2, Karras et al. 2020), a U-Net noise predictor (DDPM, Ho et al. 2020) and masked
convolutions (PixelCNN, van den Oord et al. 2016). Widths are small for CPU training.
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
    """Sub-pixel convolution: 3x3 conv to 4x channels, then PixelShuffle(2), at each stage."""

    def __init__(self, resolution: int = 32) -> None:
        super().__init__()
        widths = _widths(_stages(resolution))
        layers: list[nn.Module] = [_FromLatent(widths[0]), nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Conv2d(cin, 4 * cout, 3, 1, 1, bias=False), nn.PixelShuffle(2)]
            layers += [nn.BatchNorm2d(cout), nn.ReLU()]
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


class _MaskedConv(nn.Conv2d):
    """A convolution that sees only pixels above and to the left (type A also hides the centre)."""

    def __init__(self, cin: int, cout: int, kernel: int, mask_type: str) -> None:
        super().__init__(cin, cout, kernel, padding=kernel // 2)
        mask = torch.ones_like(self.weight)
        centre = kernel // 2
        mask[:, :, centre, centre + (mask_type == "B") :] = 0
        mask[:, :, centre + 1 :] = 0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    """PixelCNN over raster order; the three channels of a pixel are predicted together
    (conditionally independent given the pixels before it).

    Each sub-pixel is a categorical over ``levels`` intensity levels (van den Oord et al.
    use 256; 16 here keeps sampling on a CPU in seconds).
    """

    def __init__(self, resolution: int = 32, width: int = 32, layers: int = 4, levels: int = 16) -> None:
        super().__init__()
        self.levels = levels
        self.first = _MaskedConv(4, width, 7, "A")  # RGB + a constant-ones channel (PixelCNN++)
        self.body = nn.ModuleList([_MaskedConv(width, width, 3, "B") for _ in range(layers)])
        self.out = nn.Sequential(
            nn.ReLU(), nn.Conv2d(width, width, 1), nn.ReLU(), nn.Conv2d(width, 3 * levels, 1)
        )

    def rows_of_context(self) -> int:
        """How many rows above a pixel can influence its prediction (the receptive field)."""
        return self.first.kernel_size[0] // 2 + len(self.body) * (self.body[0].kernel_size[0] // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The ones channel is 1 on the image and 0 in the zero padding, so a pixel near the
        # border knows it is there (Salimans et al. 2017) instead of reading padding as grey.
        h = self.first(torch.cat([x, torch.ones_like(x[:, :1])], dim=1))
        for layer in self.body:
            h = h + layer(F.relu(h))
        logits = self.out(h)
        return logits.view(x.shape[0], 3, self.levels, *x.shape[2:])
