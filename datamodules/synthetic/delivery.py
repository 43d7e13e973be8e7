"""The delivery chain: what happens to a generated image before anyone attributes it.

Images met in practice are re-encoded, resized, filtered and cropped on their way from the
generator to the viewer. Yang et al. (arXiv 2307.15977) never post-process their synthetic
images, and a fingerprint learned on pristine outputs is erased by the first JPEG pass (the
robustness track shows it). Here a synthetic model may include its delivery: each generated
image passes through a random chain of the robustness track's own operations
(:mod:`datamodules.perturbations`: one implementation for training and for testing) in
random order, each applied with its probability at a strength drawn uniformly from its
range, and the synthetic model's identity stays the label - so the extractor must learn a
fingerprint the chain does not erase.

This follows the augmentation practice of the detection literature (Wang et al., CVPR 2020,
"CNN-generated images are surprisingly easy to spot... for now": blur and JPEG each with
probability 0.5), widened to the operations the attribution benchmarks evaluate (GenImage,
ImageAttributionBench, AI-GenBench: JPEG, resizing, blur, noise, crops). Ranges are sized for
32 x 32 images; they are configuration (``data.delivery`` of an extractor config).

Randomness: each image's chain is drawn from ``derive_seed("delivery", model id, image index,
round)``, so a delivered image depends on what it is and how often it was drawn - not on the
batch, the worker or the process; a resumed run sees the very same images.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from core.seeding import derive_seed
from datamodules.perturbations import PERTURBATIONS, PerturbationError, PerturbationKind, register_kind

#: the default chain: Wang et al. 2020's blur + JPEG at probability 0.5, plus resizing, noise
#: and crops; strengths cover the robustness track's levels (JPEG 95..50, resize 0.75..0.5,
#: blur 0.5..1, noise 2..5) and go somewhat beyond, so a test level is never the range's edge
DEFAULT_STEPS: dict[str, dict[str, Any]] = {
    "jpeg": {"probability": 0.5, "range": [40, 100]},
    "resize": {"probability": 0.3, "range": [0.4, 1.0]},
    "blur": {"probability": 0.3, "range": [0.2, 1.5]},
    "noise": {"probability": 0.3, "range": [0.0, 8.0]},
    "crop": {"probability": 0.2, "range": [0.75, 1.0]},
}


@dataclass(frozen=True)
class DeliveryStep:
    """One operation of the chain: applied with ``probability`` at a strength in ``[low, high]``."""

    kind: PerturbationKind
    probability: float
    low: float
    high: float

    def strength(self, gen: torch.Generator) -> float:
        value = self.low + (self.high - self.low) * float(torch.rand((), generator=gen))
        return float(round(value)) if self.kind.name == "jpeg" else value


class DeliveryChain:
    """A random post-processing chain over uint8 images (see the module docstring).

    Args:
        steps: ``{kind: {"probability": p, "range": [low, high]}}`` for kinds of the
            perturbation registry (``jpeg``, ``resize``, ``blur``, ``noise``, ``crop``, ...);
            ``None`` gives :data:`DEFAULT_STEPS`.
        probability: chance that an image is delivered at all (else it stays as generated).
        random_order: shuffle the steps per image (else they run in the order given).
    """

    def __init__(
        self,
        steps: Mapping[str, Mapping[str, Any]] | None = None,
        probability: float = 1.0,
        random_order: bool = True,
    ) -> None:
        if not 0 <= probability <= 1:
            raise PerturbationError(f"delivery probability must be in [0, 1], got {probability}")
        self.probability, self.random_order = float(probability), random_order
        chosen = DEFAULT_STEPS if steps is None else steps
        self.steps = [self._step(name, spec) for name, spec in chosen.items()]

    @staticmethod
    def _step(name: str, spec: Mapping[str, Any]) -> DeliveryStep:
        try:
            kind = PERTURBATIONS.create(name)
        except KeyError as error:
            raise PerturbationError(f"delivery step: {error}") from None
        unknown = set(spec) - {"probability", "range"}
        if unknown:
            raise PerturbationError(
                f"delivery step {name!r}: unknown keys {sorted(unknown)}; valid: probability, range"
            )
        try:
            probability = float(spec.get("probability", 0.5))
            low, high = (float(v) for v in spec.get("range", (kind.identity, kind.identity)))
        except (TypeError, ValueError):
            raise PerturbationError(
                f"delivery step {name!r}: probability is a number and range two numbers [low, high], "
                f"got {dict(spec)}"
            ) from None
        if not 0 <= probability <= 1 or not math.isfinite(low) or not math.isfinite(high) or low > high:
            raise PerturbationError(
                f"delivery step {name!r}: needs a probability in [0, 1] and a range low <= high, "
                f"got {probability} and [{low}, {high}]"
            )
        for end in (low, high):
            if end != kind.identity and not kind.valid(end):
                raise PerturbationError(
                    f"delivery step {name!r}: {kind.strength} must be {kind.valid_text}, got {end}"
                )
        return DeliveryStep(kind, probability, low, high)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | bool | None) -> DeliveryChain | None:
        """``None``/``False``: no delivery; ``True``: the default chain; a mapping:
        ``{"steps": {...}, "probability": p, "random_order": bool}``."""
        if config is None or config is False:
            return None
        if config is True:
            return cls()
        unknown = set(config) - {"steps", "probability", "random_order"}
        if unknown:
            raise PerturbationError(
                f"delivery: unknown keys {sorted(unknown)}; valid: steps, probability, random_order"
            )
        return cls(config.get("steps"), config.get("probability", 1.0), config.get("random_order", True))

    def deliver_one(self, image: torch.Tensor, seed: int) -> torch.Tensor:
        """One uint8 C x H x W image through its chain (seeded by ``seed``)."""
        gen = torch.Generator().manual_seed(seed)
        if float(torch.rand((), generator=gen)) >= self.probability:
            return image
        order = (
            torch.randperm(len(self.steps), generator=gen).tolist()
            if self.random_order
            else range(len(self.steps))
        )
        out = image[None]
        for i in order:
            step = self.steps[i]
            applies = float(torch.rand((), generator=gen)) < step.probability
            strength = step.strength(gen)
            if applies and strength != step.kind.identity and step.kind.valid(strength):
                out = step.kind.apply(out, strength, gen)
        return out[0]

    def __call__(
        self, images: torch.Tensor, model_id: int, indices: Sequence[int], round_: int = 0
    ) -> torch.Tensor:
        """uint8 N x C x H x W images of one model (image ``indices``), each through its chain."""
        return torch.stack(
            [
                self.deliver_one(image, derive_seed("delivery", model_id, index, round_) % 2**63)
                for image, index in zip(images, indices, strict=True)
            ]
        )


def _delivered(images: torch.Tensor, probability: float, gen: torch.Generator) -> torch.Tensor:
    """Each image through the default chain (:data:`DEFAULT_STEPS`), delivered at all with
    ``probability``: a random chain per image, as met on the web, rather than one operation at
    one strength (the perturbation ``delivery:P``)."""
    chain = DeliveryChain(probability=probability)
    seeds = torch.randint(2**62, (len(images),), generator=gen).tolist()
    return torch.stack([chain.deliver_one(image, seed) for image, seed in zip(images, seeds, strict=True)])


register_kind(
    PerturbationKind(
        "delivery",
        "the training delivery chain, probability",
        0.0,
        lambda p: 0 < p <= 1,
        "a probability in (0, 1]",
        _delivered,
    )
)
