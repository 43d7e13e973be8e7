"""A small fabricated real-generator data set for tests: each 'generator' leaves a periodic trace.

Generator g adds a faint 2-D cosine of its own frequency to smooth random images, so a method
that reads spectra can attribute it. Registered as data set ``fabricated``, with the zoo's
split names and a ``GeneratorSplit`` per split, like the embedded zoo.
"""

from __future__ import annotations

import math

import lightning as L
import torch

from core.errors import AbsentSplitError
from datamodules import DATASETS
from datamodules.zoo.datamodule import GeneratorSplit

GENERATORS = {
    "known": [(3, 0), (0, 5), (4, 4), (7, 1)],
    "unseen_seed": [(2, 6)],
    "unseen_dataset": [(6, 2)],
    "unseen_architecture": [(5, 7), (1, 3)],
    "real": [(0, 0), (0, 0)],  # real images: no periodic trace (two sources)
}
IMAGES = 60  # per generator; known: 30 train / 15 val / 15 test


def _images(freq: tuple[int, int], count: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.avg_pool2d(torch.rand(count, 3, 40, 40, generator=gen), 9, 1)[:, :, :32, :32]
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    trace = torch.cos(2 * math.pi * (freq[0] * yy + freq[1] * xx) / 16) if any(freq) else 0
    return ((base + 0.08 * trace).clamp(0, 1) * 255).round().to(torch.uint8)


def fabricated_split(split: str, empty: bool = False) -> GeneratorSplit:
    if split == "semantic_shift":
        raise AbsentSplitError("the fabricated data set has one content: no semantic shift")
    unseen = ("unseen_seed", "unseen_dataset", "unseen_architecture")
    roles = {"unseen_all": unseen, "generators": ("known", *unseen)}.get(
        split, (split.split("_")[0],) if split.startswith(("known", "real_")) else (split,)
    )
    part = split.split("_")[-1]
    window = {"train": (0, 30), "val": (30, 45), "test": (45, 60)}.get(part, (0, IMAGES))
    if split in ("unseen_all", "generators", "real") or split.startswith("unseen_"):
        window = (0, IMAGES)
    names, images, labels, indices = [], [], [], []
    for role in roles:
        for number, freq in enumerate(GENERATORS[role]):
            name = f"{role}-{freq[0]}-{freq[1]}" if role != "real" else f"real-{number}"
            all_images = _images(freq, IMAGES, hash(freq) % 1000 + 7919 * (role == "real") * (number + 1))
            names.append(name)
            images.append(all_images[window[0] : window[1]])
            indices.append(torch.arange(*window))
    order = sorted(range(len(names)), key=lambda i: names[i])
    for label, i in enumerate(order):
        labels.append(torch.full((len(images[i]),), label))
    stacked = (
        torch.cat([images[i] for i in order]) if not empty else torch.zeros(0, 3, 32, 32, dtype=torch.uint8)
    )
    return GeneratorSplit(
        split,
        stacked,
        torch.cat(labels)[: len(stacked)],
        tuple(names[i] for i in order),
        tuple({"generator_id": names[i]} for i in order),
        torch.cat([indices[i] for i in order])[: len(stacked)],
        "fabricated-v1",
    )


class FabricatedDataModule(L.LightningDataModule):
    """Fabricated generators with periodic traces (tests only)."""

    def __init__(self, split: str = "known_test", empty_splits: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.split_name, self.empty_splits, self.split = split, empty_splits, None

    def setup(self, stage: str | None = None) -> None:
        self.split = fabricated_split(self.split_name, empty=self.split_name in self.empty_splits)


if "fabricated" not in DATASETS:
    DATASETS.register("fabricated")(FabricatedDataModule)
