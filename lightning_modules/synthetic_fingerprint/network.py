"""The fingerprint extractor network and its metric-learning loss (Yang et al., arXiv 2307.15977).

The paper's extractor is a ResNet-50 trained with cross-entropy over synthetic model
identities plus a triplet loss, and compares images by the distance of their embeddings.
Here:

* the backbone comes from timm (``create_model``), any name; the default is a half-width
  ResNet-18 (channels 32-64-128-256, 2.8 M parameters) - scaled down from ResNet-50 so that
  ten minutes on a 2-core CPU train it on ~100k images;
* the stem is adapted to 32 x 32 fingerprints: the first stride-2 convolution runs at
  ``stem_stride`` (default 1) and the stem max-pool is removed, so the first layers see
  every pixel - early down-sampling would alias away the high-frequency traces that
  up-sampling layers leave (the periodic peaks in a generator's spectrum);
* the input (``input_transform``) is the denoiser residual ``x - denoise(x)`` (``residual``),
  the per-channel 2-D FFT magnitude of that residual (``spectrum``: the official code's input -
  ``abs(fft2)``, no shift, no log - with ``spectrum_log`` / ``spectrum_standardise`` as
  options), the pixels as they are (``image``), or both stacked as six channels
  (``spectrum_image``: the spectrum carries the fingerprint on pristine images, the pixels a
  weaker signal that delivery does not erase - the robust ablation's input probes;
  ``pixels_standardise`` takes each image's overall colour and tone out of them). The
  denoiser is a fixed filter (``median3``, ``gaussian``) or the suite's trained DnCNN
  (``dncnn``, frozen; the paper uses GRIP's DnCNN);
* ``channels_last``: the backbone's weights and input in NHWC layout - the same network, its
  training step about a fifth faster on this CPU (``benchmarks/speed/flagship_step.py``);
  off by default so that recorded trainings keep their float rounding;
* an embedding head (linear, ``embedding_dim``) whose L2-normalised output is the fingerprint:
  cosine similarity compares two images, as in the paper's zero-shot matching.
"""

from __future__ import annotations

from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import nn

from core.images import magnitude_spectrum
from lightning_modules.denoiser.training import build_residual

INPUT_TRANSFORMS = ("residual", "spectrum", "image", "spectrum_image")
DEFAULT_BACKBONE_ARGS: dict[str, Any] = {"channels": [32, 64, 128, 256]}


def adapt_stem(model: nn.Module, stem_stride: int, keep_stem_pool: bool) -> nn.Module:
    """Run the first stride-2 convolution at ``stem_stride`` and drop a stem max-pool."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.stride == (2, 2):
            module.stride = (stem_stride, stem_stride)
            break
    if not keep_stem_pool and isinstance(getattr(model, "maxpool", None), nn.MaxPool2d):
        model.maxpool = nn.Identity()
    return model


class FingerprintNet(nn.Module):
    """timm backbone (stem adapted) -> global pool -> linear embedding; ``forward`` gives the
    un-normalised embedding, :meth:`fingerprint` its L2-normalised form."""

    #: the input a network is built for when its config names none
    DEFAULT_INPUT = "residual"

    def __init__(
        self,
        backbone: str = "resnet18",
        backbone_args: dict[str, Any] | None = None,
        embedding_dim: int = 128,
        stem_stride: int = 1,
        keep_stem_pool: bool = False,
        input_transform: str = DEFAULT_INPUT,
        denoiser: str = "median3",
        spectrum_log: bool = False,
        spectrum_standardise: bool = False,
        denoiser_checkpoint: str | None = None,
        channels_last: bool = False,
        pixels_standardise: bool = False,
    ) -> None:
        super().__init__()
        if input_transform not in INPUT_TRANSFORMS:
            raise ValueError(f"unknown input_transform {input_transform!r}; valid: {INPUT_TRANSFORMS}")
        self.residual = build_residual(denoiser, denoiser_checkpoint)
        self.spectrum_log, self.spectrum_standardise = spectrum_log, spectrum_standardise
        args = DEFAULT_BACKBONE_ARGS if backbone_args is None and backbone == "resnet18" else backbone_args
        # the stacked input: the residual's spectrum (3 channels) and the pixels (3)
        channels = {"in_chans": 6} if input_transform == "spectrum_image" else {}
        body = timm.create_model(backbone, pretrained=False, num_classes=0, **channels, **(args or {}))
        self.backbone = adapt_stem(body, stem_stride, keep_stem_pool)
        self.embedding = nn.Linear(self.backbone.num_features, embedding_dim)
        self.input_transform, self.denoiser = input_transform, denoiser
        self.pixels_standardise = pixels_standardise
        self.channels_last = channels_last
        if channels_last:
            self.backbone.to(memory_format=torch.channels_last)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] -> the network's input (the residual, its spectrum, the pixels, or the
        spectrum then the pixels)."""
        if self.input_transform == "residual":
            return self.residual(images)
        if self.input_transform == "image":
            return self.pixels(images)
        spectrum = magnitude_spectrum(self.residual(images), self.spectrum_log, self.spectrum_standardise)
        if self.input_transform == "spectrum":
            return spectrum
        return torch.cat([spectrum, self.pixels(images)], dim=1)

    def pixels(self, images: torch.Tensor) -> torch.Tensor:
        """The pixels as the network sees them; ``pixels_standardise``: each image's channels to
        zero mean and unit deviation, so an image's overall colour and tone are not there to
        learn (the probe of whether they are what synthetic models reward and real generators
        do not: they are not - the real generators' identification fell with them)."""
        pixels = images.float()
        if not self.pixels_standardise:
            return pixels
        mean = pixels.mean(dim=(2, 3), keepdim=True)
        return (pixels - mean) / pixels.std(dim=(2, 3), keepdim=True).clamp_min(1e-3)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        prepared = self.prepare(images)
        if self.channels_last:
            prepared = prepared.contiguous(memory_format=torch.channels_last)
        return self.embedding(self.backbone(prepared))

    def fingerprint(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self(images), dim=1)


#: inputs a trained network may grow into: (trained, grown), the trained input's channels
#: first in the grown one's (``prepare`` stacks the spectrum before the pixels)
GROWTHS = {("spectrum", "spectrum_image")}


def load_grown(net: FingerprintNet, state: dict[str, torch.Tensor], trained_input: str) -> None:
    """Load ``state`` - a network trained on ``trained_input`` - into ``net``. Where ``net``'s
    input grew (a ``spectrum`` network to ``spectrum_image``), a convolution with more input
    channels in ``net`` gets zeros for the new ones, so the grown network starts computing
    exactly what the trained one did and learns what the added channels carry. Any other
    change of input is an error (the trained weights would read the wrong channels), and any
    other mismatch is load_state_dict's."""
    if trained_input != net.input_transform and (trained_input, net.input_transform) not in GROWTHS:
        raise ValueError(
            f"init_weights: a network trained on input {trained_input!r} cannot start one on "
            f"{net.input_transform!r}; it may grow {sorted(GROWTHS)}"
        )
    own = net.state_dict()
    grown = dict(state)
    for name, tensor in state.items():
        target = own.get(name)
        if (
            target is not None
            and tensor.dim() == 4
            and target.shape[1] > tensor.shape[1]
            and (target.shape[0], *target.shape[2:]) == (tensor.shape[0], *tensor.shape[2:])
        ):
            padded = tensor.new_zeros(target.shape)
            padded[:, : tensor.shape[1]] = tensor
            grown[name] = padded
    net.load_state_dict(grown)


def batch_hard_triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans, Beyer & Leibe 2017) on cosine distance.

    For each anchor: the farthest image of its own model and the nearest image of another
    model; ``relu(d_pos - d_neg + margin)`` averaged over anchors that have both.
    Embeddings are L2-normalised here, so distances are ``1 - cosine`` in [0, 2].
    """
    e = F.normalize(embeddings, dim=1)
    distance = 1 - e @ e.T
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive = same & ~eye
    valid = positive.any(1) & (~same).any(1)
    if not valid.any():
        return embeddings.sum() * 0  # no anchor has both a positive and a negative
    hardest_positive = distance.masked_fill(~positive, float("-inf")).max(1).values
    hardest_negative = distance.masked_fill(same, float("inf")).min(1).values
    return F.relu(hardest_positive - hardest_negative + margin)[valid].mean()
