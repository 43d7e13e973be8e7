"""The architecture space synthetic models are drawn from, and the id -> model spec mapping.

Yang, Cao, Wang, Xu, *Model Synthesis for Zero-Shot Model Attribution* (arXiv 2307.15977):
a synthetic model is image-to-image - a real photo passes 1-2 down-sampling blocks
(average-pool, conv-BN-ReLU-conv-BN) and 1-2 generator blocks that up-sample back - and its
architecture is a choice of generator-block building blocks. The paper's space
(:data:`PAPER_SPACE`) is blocks {1, 2} x convs per block {1, 2} x order {post: up->conv->norm->act,
pre: norm->act->up->conv} x up-sampling {bilinear, nearest, transposed conv k2 s2} x
activation {none, ReLU, sigmoid, tanh} x norm {none, batch, instance}, kernel 3, 32 base
channels: 288 architectures, 20 weight sets each = 5,760 models.

:data:`EXTENDED_SPACE` goes beyond it (bicubic and pixel-shuffle up-sampling; LeakyReLU,
GELU, SiLU; layer and group norm; kernel 1/3/5, dilation, grouped convs, reflect/replicate
padding; widths 16-64; a tanh or clamp output layer) and restricted spaces (one up-sampling
type only) serve the diversity study. Any space is a YAML-able dataclass.

Identity: model ``i`` of a space with ``A`` architectures has architecture ``perm[i % A]`` (a
fixed, seeded permutation, so any prefix of ``A`` ids covers every architecture once) and
weight set ``i // A``. The id alone fixes both, so model 1234 is the same network on every
machine and the set grows to any size without storing weights.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import torch

from core.errors import ModelprintError
from core.seeding import derive_seed

UPSAMPLING = ("nearest", "bilinear", "bicubic", "transposed", "pixel_shuffle", "transposed4")
ACTIVATIONS = ("none", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu")
NORMS = ("none", "batch", "instance", "layer", "group")
ORDERS = ("post", "pre")
PADDING_MODES = ("zeros", "reflect", "replicate")
OUTPUTS = ("raw", "tanh", "clamp")
WEIGHT_INITS = ("kaiming_uniform", "kaiming_normal", "xavier_normal", "orthogonal")


class InvalidSpaceError(ModelprintError, ValueError):
    """An architecture space that cannot produce a valid model; the message says why."""


@dataclass(frozen=True)
class ArchitectureSpace:
    """The choices each synthetic model's architecture is drawn from (one field per building block).

    Every tuple is the set of options for one choice; the architectures are their product.
    """

    name: str = "paper"
    blocks: tuple[int, ...] = (1, 2)
    convs_per_block: tuple[int, ...] = (1, 2)
    order: tuple[str, ...] = ("post", "pre")
    upsampling: tuple[str, ...] = ("bilinear", "nearest", "transposed")
    activation: tuple[str, ...] = ("none", "relu", "sigmoid", "tanh")
    norm: tuple[str, ...] = ("none", "batch", "instance")
    kernel_size: tuple[int, ...] = (3,)
    dilation: tuple[int, ...] = (1,)
    groups: tuple[int, ...] = (1,)
    padding_mode: tuple[str, ...] = ("zeros",)
    base_channels: tuple[int, ...] = (32,)
    output: tuple[str, ...] = ("raw",)
    weight_init: tuple[str, ...] = ("kaiming_uniform",)
    weight_sets: int = 20  # the paper's number of weight sets per architecture

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        allowed = {
            "upsampling": UPSAMPLING,
            "activation": ACTIVATIONS,
            "norm": NORMS,
            "order": ORDERS,
            "padding_mode": PADDING_MODES,
            "output": OUTPUTS,
            "weight_init": WEIGHT_INITS,
        }
        for name in self.choice_names():
            options = getattr(self, name)
            if len(options) == 0:
                raise InvalidSpaceError(f"space {self.name!r}: no options for {name!r}")
            if name in allowed:
                bad = [o for o in options if o not in allowed[name]]
                if bad:
                    raise InvalidSpaceError(
                        f"space {self.name!r}: unknown {name} {bad}; valid: {allowed[name]}"
                    )
        if any(b < 1 for b in self.blocks) or any(c < 1 for c in self.convs_per_block):
            raise InvalidSpaceError(f"space {self.name!r}: blocks and convs_per_block must be >= 1")
        if any(k % 2 == 0 for k in self.kernel_size):
            raise InvalidSpaceError(f"space {self.name!r}: kernel sizes must be odd, got {self.kernel_size}")
        if any(c % max(self.groups) for c in self.base_channels):
            raise InvalidSpaceError(
                f"space {self.name!r}: base_channels {self.base_channels} not divisible by groups"
            )
        if self.weight_sets < 1:
            raise InvalidSpaceError(f"space {self.name!r}: weight_sets must be >= 1")

    @staticmethod
    def choice_names() -> tuple[str, ...]:
        return tuple(
            f.name for f in dataclasses.fields(ArchitectureSpace) if f.name not in ("name", "weight_sets")
        )

    @property
    def num_architectures(self) -> int:
        return math.prod(len(getattr(self, name)) for name in self.choice_names())

    def check_resolution(self, resolution: int) -> None:
        """Each block halves then doubles the size, so the resolution must divide by 2^max(blocks)."""
        need = 2 ** max(self.blocks)
        if resolution % need or resolution < need:
            raise InvalidSpaceError(
                f"resolution {resolution} is not reachable by space {self.name!r}: with up to "
                f"{max(self.blocks)} blocks it must be a positive multiple of {need}"
            )

    def architecture(self, index: int) -> dict[str, Any]:
        """The ``index``-th architecture in this space's fixed, seeded order."""
        flat = int(_architecture_order(self.name, self.num_architectures)[index % self.num_architectures])
        choice: dict[str, Any] = {}
        for name in reversed(self.choice_names()):
            options = getattr(self, name)
            flat, pick = divmod(flat, len(options))
            choice[name] = options[pick]
        return {name: choice[name] for name in self.choice_names()}

    def spec(self, model_id: int) -> SyntheticModelSpec:
        if model_id < 0:
            raise ValueError(f"model ids are non-negative, got {model_id}")
        arch_index, weight_set = model_id % self.num_architectures, model_id // self.num_architectures
        return SyntheticModelSpec(
            model_id=model_id,
            space=self.name,
            architecture_index=arch_index,
            weight_set=weight_set,
            **self.architecture(arch_index),
        )


@dataclass(frozen=True)
class SyntheticModelSpec:
    """Everything that defines one synthetic model; printable, and the network is built from it."""

    model_id: int
    space: str
    architecture_index: int
    weight_set: int
    blocks: int
    convs_per_block: int
    order: str
    upsampling: str
    activation: str
    norm: str
    kernel_size: int
    dilation: int
    groups: int
    padding_mode: str
    base_channels: int
    output: str
    weight_init: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@functools.lru_cache(maxsize=16)
def _architecture_order(space_name: str, total: int) -> torch.Tensor:
    return torch.randperm(
        total, generator=torch.Generator().manual_seed(derive_seed("space-order", space_name))
    )


PAPER_SPACE = ArchitectureSpace()
EXTENDED_SPACE = ArchitectureSpace(
    name="extended",
    blocks=(1, 2, 3),
    upsampling=("nearest", "bilinear", "bicubic", "transposed", "pixel_shuffle"),
    activation=ACTIVATIONS,
    norm=NORMS,
    kernel_size=(1, 3, 5),
    dilation=(1, 2),
    groups=(1, 4),
    padding_mode=PADDING_MODES,
    base_channels=(16, 32, 64),
    output=OUTPUTS,
    weight_init=WEIGHT_INITS,
)
SPACES: dict[str, ArchitectureSpace] = {
    "paper": PAPER_SPACE,
    "extended": EXTENDED_SPACE,
    **{
        f"paper_{up}_only": dataclasses.replace(PAPER_SPACE, name=f"paper_{up}_only", upsampling=(up,))
        for up in PAPER_SPACE.upsampling
    },
    # candidates of the fidelity-guided choice (``modelprint synth stats --real_split=known_train``):
    # three blocks (32 px outputs up-sampled 4 -> 8 -> 16 -> 32), DCGAN's k4 s2 transposed
    # convolution, a tanh output layer as most real generators have, and their combinations
    "paper_3blocks": dataclasses.replace(PAPER_SPACE, name="paper_3blocks", blocks=(1, 2, 3)),
    "paper_transposed4": dataclasses.replace(
        PAPER_SPACE, name="paper_transposed4", upsampling=("bilinear", "nearest", "transposed4")
    ),
    "paper_tanh": dataclasses.replace(PAPER_SPACE, name="paper_tanh", output=("tanh",)),
    "paper_3blocks_tanh": dataclasses.replace(
        PAPER_SPACE, name="paper_3blocks_tanh", blocks=(1, 2, 3), output=("tanh",)
    ),
    "paper_bilinear_tanh": dataclasses.replace(
        PAPER_SPACE, name="paper_bilinear_tanh", upsampling=("bilinear",), output=("tanh",)
    ),
    "paper_bilinear_3blocks_tanh": dataclasses.replace(
        PAPER_SPACE,
        name="paper_bilinear_3blocks_tanh",
        upsampling=("bilinear",),
        blocks=(1, 2, 3),
        output=("tanh",),
    ),
    "paper_transposed4_3blocks_tanh": dataclasses.replace(
        PAPER_SPACE,
        name="paper_transposed4_3blocks_tanh",
        upsampling=("bilinear", "nearest", "transposed4"),
        blocks=(1, 2, 3),
        output=("tanh",),
    ),
}


def get_space(name: str) -> ArchitectureSpace:
    if name not in SPACES:
        raise KeyError(f"unknown architecture space {name!r}; valid: {', '.join(SPACES)}")
    return SPACES[name]
