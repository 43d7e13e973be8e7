"""``RealGeneratorDataModule``: any split of the embedded zoo, as tensors and DataLoaders.

Splits come from the artifact's own ``zoo.yaml`` and manifest (see that file for their
meaning): ``known_train`` / ``known_val`` / ``known_test`` (known generators, split by image
index), ``unseen_seed`` / ``unseen_dataset`` / ``unseen_architecture`` / ``unseen_all``
(every image of those generators), ``generators`` (every generator, every image) and
``real`` (the training images, one source per data set; ``real_train`` / ``real_val`` /
``real_test`` split them by image index as the known generators' images are). Labels index
the split's sorted generator ids; the ids and manifest rows travel with the split.

Real as a known class (``include_real``, on by default): the known splits also hold a class
``real`` - as OSMA/POSE and ImageAttributionBench do, attribution must first say "not made by
a generator". Its images are the real splits' of the same part (``known_train`` takes from
``real_train``), as many as one known generator has there, drawn equally from each data set -
so ``real`` is a class like the others, not four times larger. The zoo's real images are the
generators' own training images (every generator trained on its whole set, so no held-out
real image exists), as GenImage's real class is ImageNet, the data its generators trained on.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader, Dataset

from core.errors import AbsentSplitError, ConfigError, ModelprintError
from core.images import as_float_images
from datamodules import register_dataset
from datamodules.zoo.artifact import (
    ARTIFACT_DIR,
    load_manifest,
    recorded_data_hash,
    require_artifact,
    verify_artifact,
)

UNSEEN = ("unseen_seed", "unseen_dataset", "unseen_architecture")
SPLITS = (
    "known_train",
    "known_val",
    "known_test",
    *UNSEEN,
    "unseen_all",
    "generators",
    "real",
    "real_train",
    "real_val",
    "real_test",
    "semantic_shift",
)
#: the split of generators that share the known ones' recipes but not their content
SEMANTIC_SHIFT = "semantic_shift"


class UnknownSplitError(ModelprintError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class GeneratorSplit:
    """Images (uint8, N x 3 x R x R), labels and the generators they index."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    generator_ids: tuple[str, ...]
    manifest: tuple[dict[str, Any], ...]
    image_indices: torch.Tensor
    data_hash: str
    #: files left out because they could not be used ("path: reason"), where skipping was asked for
    skipped: tuple[str, ...] = ()
    #: each image's row in its data set (the artifact), so a split that unites others (unseen_all)
    #: can take their features instead of computing them again; None where rows are not known
    source_rows: torch.Tensor | None = None
    #: where each image came from ("file" or "file:line"), for errors that must name an image;
    #: None where images have no file of their own (the zoo's artifact rows)
    origins: tuple[str, ...] | None = None
    #: the version of the data set the split is cut from, where that differs from the split's
    #: own content hash (the zoo's known splits with the real class: cut from the same artifact,
    #: other images); a run is filed under it, its options in the run's config
    source_hash: str | None = None
    #: per generator id, the known generator it is the counterpart of (the semantic-shift
    #: split: the same recipe on other content); None where the split has no such pairing
    counterparts: tuple[str, ...] | None = None

    def subset(self, keep: torch.Tensor) -> GeneratorSplit:
        """The images where ``keep`` is true, with the generators that still have images."""
        names = tuple(g for i, g in enumerate(self.generator_ids) if bool((self.labels[keep] == i).any()))
        relabel = torch.tensor([names.index(g) if g in names else -1 for g in self.generator_ids])
        rows = self.manifest_of()
        return dataclasses.replace(
            self,
            images=self.images[keep],
            labels=relabel[self.labels[keep]],
            generator_ids=names,
            manifest=tuple(rows[g] for g in names),
            image_indices=self.image_indices[keep],
            source_rows=None if self.source_rows is None else self.source_rows[keep],
            origins=None
            if self.origins is None
            else tuple(o for o, k in zip(self.origins, keep.tolist(), strict=True) if k),
        )

    def manifest_of(self) -> dict[str, dict[str, Any]]:
        return {row["generator_id"]: row for row in self.manifest}

    def __len__(self) -> int:
        return len(self.labels)


@functools.lru_cache(maxsize=4)
def _verified(root: str, data_hash: str) -> None:
    """The artifact's content checked against its data hash, once per process."""
    verify_artifact(root, data_hash)


@functools.lru_cache(maxsize=2)
def _decoded(root: str, data_hash: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Every image of the artifact, decoded once per process (keyed by the data hash)."""
    import datasets
    from PIL import Image

    from core.paths import cache_dir

    table = datasets.load_dataset(
        "parquet",
        data_files=str(Path(root) / "images.parquet"),
        split="train",
        cache_dir=str(cache_dir() / "hf-datasets"),
    )
    table = table.cast_column("image", datasets.Image(decode=False))
    images = np.stack(
        [np.asarray(Image.open(io.BytesIO(cell["bytes"])).convert("RGB")) for cell in table["image"]]
    )
    return images.transpose(0, 3, 1, 2).copy(), list(table["generator_id"]), np.asarray(table["image_index"])


def _copies_of_earlier(images: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """Which images repeat (pixel for pixel) one of the ``earlier`` ones: the real sets hold a few
    (the faces set crops each LFW face three times, and a small face's crops can coincide), and
    a real image may not be both fitted on and tested on, so later real splits drop them."""

    def key(image: np.ndarray) -> bytes:
        return hashlib.blake2b(image.tobytes(), digest_size=16).digest()

    seen = {key(images[i]) for i in np.flatnonzero(earlier)}
    return np.array([key(image) in seen for image in images]) if seen else np.zeros(len(images), bool)


REAL_CLASS = "real"


def with_real_class(known: GeneratorSplit, real: GeneratorSplit, per_class: int) -> GeneratorSplit:
    """``known`` with a class ``real`` of ``per_class`` images of ``real``, drawn equally from its
    data sets (the lowest image indices of each; the first data sets take one more where the
    count does not divide). Its content hash is derived from the artifact's and the option."""
    sources = real.labels.unique().tolist()
    shares = [per_class // len(sources) + (i < per_class % len(sources)) for i in range(len(sources))]
    picked = torch.cat(
        [
            torch.nonzero(real.labels == source).flatten()[
                real.image_indices[real.labels == source].argsort()[:share]
            ]
            for source, share in zip(sources, shares, strict=True)
        ]
    )
    names = tuple(sorted((*known.generator_ids, REAL_CLASS)))
    relabel = torch.tensor([names.index(g) for g in known.generator_ids])
    row = {
        "generator_id": REAL_CLASS,
        "family": "real",
        "architecture": "real",
        "role": "real",
        "dataset": "+".join(real.generator_ids),
    }
    manifest = {r["generator_id"]: r for r in known.manifest} | {REAL_CLASS: row}
    rows = None
    if known.source_rows is not None and real.source_rows is not None:
        rows = torch.cat([known.source_rows, real.source_rows[picked]])
    return GeneratorSplit(
        name=known.name,
        images=torch.cat([known.images, real.images[picked]]),
        labels=torch.cat([relabel[known.labels], torch.full((len(picked),), names.index(REAL_CLASS))]),
        generator_ids=names,
        manifest=tuple(manifest[n] for n in names),
        image_indices=torch.cat([known.image_indices, real.image_indices[picked]]),
        data_hash=hashlib.blake2b(f"{known.data_hash}|real-class".encode(), digest_size=16).hexdigest(),
        source_rows=rows,
        source_hash=known.source_hash or known.data_hash,
    )


def load_split(
    split: str,
    root: str | Path = ARTIFACT_DIR,
    include_real: bool = False,
    semantic_shift: str | None = None,
) -> GeneratorSplit:
    """One split of the zoo artifact at ``root``; an unknown split or missing artifact raises
    clearly. ``include_real``: the known splits hold the class ``real``; ``semantic_shift``: the
    known generators are those trained on that data set, and the split ``semantic_shift`` holds
    the same architectures trained on the others (module docstring)."""
    if split not in SPLITS:
        raise UnknownSplitError(f"unknown zoo split {split!r}; valid: {', '.join(SPLITS)}")
    root = require_artifact(root)
    manifest = {row["generator_id"]: row for row in load_manifest(root)}
    if semantic_shift is not None:
        contents = sorted({r["dataset"] for r in manifest.values() if r["role"] == "known"})
        if semantic_shift not in contents:
            raise ConfigError(
                f"semantic_shift {semantic_shift!r} is not a data set the known generators trained on; "
                f"valid: {contents}"
            )
    elif split == SEMANTIC_SHIFT:
        raise AbsentSplitError(
            "no semantic-shift split: name the known generators' content with "
            "--dataset_args='{semantic_shift: digits}'"
        )
    if include_real and split.startswith("known_"):
        known = load_split(split, root, semantic_shift=semantic_shift)
        real = load_split(split.replace("known_", "real_"), root)
        if semantic_shift is not None:  # one content: the real class is that data set's images
            real = real.subset(real.labels == real.generator_ids.index(f"real-{semantic_shift}"))
        return with_real_class(known, real, int(torch.bincount(known.labels).max()))
    ranges = yaml.safe_load((root / "zoo.yaml").read_text())["known_image_split"]
    counterparts = None
    if split.startswith(("known_", "real_")):  # known generators' / real images, by index
        role, part = split.split("_")
        start = sum(ranges[p] for p in ("train", "val", "test")[: ("train", "val", "test").index(part)])
        wanted, index_range = (
            {
                g
                for g, r in manifest.items()
                if r["role"] == role and (role == "real" or semantic_shift in (None, r["dataset"]))
            },
            (start, start + ranges[part]),
        )
    elif split == SEMANTIC_SHIFT:
        counterparts = shifted_counterparts(manifest, semantic_shift)
        wanted, index_range = set(counterparts), (0, 1 << 30)
    else:
        roles = {"unseen_all": set(UNSEEN), "generators": {"known", *UNSEEN}, "real": {"real"}}.get(
            split, {split}
        )
        wanted, index_range = {g for g, r in manifest.items() if r["role"] in roles}, (0, 1 << 30)
    data_hash = recorded_data_hash(root)
    _verified(str(root), data_hash)  # figures are never made on a damaged artifact
    images, generator_ids, indices = _decoded(str(root), data_hash)
    ids = np.asarray(generator_ids)
    keep = np.isin(ids, sorted(wanted)) & (indices >= index_range[0]) & (indices < index_range[1])
    if split in ("real_val", "real_test"):
        keep &= ~_copies_of_earlier(images, np.isin(ids, sorted(wanted)) & (indices < index_range[0]))
    if not keep.any():
        raise ValueError(f"zoo split {split!r} is empty in {root}")
    names = tuple(sorted(set(ids[keep].tolist())))
    lookup = {name: i for i, name in enumerate(names)}
    cut = GeneratorSplit(
        name=split,
        images=torch.from_numpy(images[keep]),
        labels=torch.tensor([lookup[g] for g in ids[keep]]),
        generator_ids=names,
        manifest=tuple(manifest[name] for name in names),
        image_indices=torch.from_numpy(indices[keep]),
        data_hash=data_hash,
        source_rows=torch.from_numpy(np.flatnonzero(keep)),
        counterparts=tuple(counterparts[n] for n in names) if counterparts else None,
    )
    if semantic_shift is None or split.startswith("real_") or split in ("generators", "real"):
        return cut
    return dataclasses.replace(  # the same images cut otherwise: its own content hash
        cut,
        data_hash=hashlib.blake2b(
            f"{data_hash}|content={semantic_shift}".encode(), digest_size=16
        ).hexdigest(),
        source_hash=data_hash,
    )


def shifted_counterparts(manifest: dict[str, dict[str, Any]], content: str) -> dict[str, str]:
    """The semantic-shift generators - each known architecture and seed trained on another data
    set than ``content`` - each with its counterpart: the known generator of that architecture
    and seed trained on ``content`` (ImageAttributionBench's semantic shift, at the zoo's level:
    the same recipe, other content)."""
    known = {
        (r["architecture"], r["seed"]): g
        for g, r in manifest.items()
        if r["role"] == "known" and r["dataset"] == content
    }
    return {
        g: known[(r["architecture"], r["seed"])]
        for g, r in manifest.items()
        if r["role"] in ("known", *UNSEEN)
        and r["dataset"] != content
        and (r["architecture"], r["seed"]) in known
    }


class SplitDataset(Dataset):
    """(image in [-1, 1], label) pairs of a split, through an optional transform."""

    def __init__(
        self, split: GeneratorSplit, transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    ):
        self.split, self.transform = split, transform

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = as_float_images(self.split.images[i])
        return (self.transform(image) if self.transform else image), self.split.labels[i]


@register_dataset("zoo")
class RealGeneratorDataModule(L.LightningDataModule):
    """The embedded zoo of really trained generators, one split at a time.

    Args:
        split: which split the train/val/test/predict loaders serve (see module docstring).
        root: the artifact directory (default: the shipped one).
        batch_size: images per batch.
        num_workers: DataLoader workers.
        transform: applied to each [-1, 1] image tensor (a method's preprocessing).
        include_real: the known splits hold a class ``real`` (module docstring); on by default,
            as in OSMA - off gives the generators-only protocol.
        semantic_shift: a data set the known generators trained on (``digits``): the known
            splits keep only its generators, and the split ``semantic_shift`` holds the same
            architectures trained on the others. Runs are filed as ``zoo:semantic-shift-<it>``.
    """

    def __init__(
        self,
        split: str = "known_test",
        root: str | Path = ARTIFACT_DIR,
        batch_size: int = 128,
        num_workers: int = 0,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        include_real: bool = True,
        semantic_shift: str | None = None,
    ) -> None:
        super().__init__()
        if split not in SPLITS:
            raise UnknownSplitError(f"unknown zoo split {split!r}; valid: {', '.join(SPLITS)}")
        self.split_name, self.root, self.batch_size, self.num_workers = (
            split,
            Path(root),
            batch_size,
            num_workers,
        )
        self.transform = transform
        self.include_real, self.semantic_shift = include_real, semantic_shift
        self.split: GeneratorSplit | None = None

    @property
    def data_set_name(self) -> str:
        """The semantic-shift variant is filed apart: its known generators are others."""
        return f"semantic-shift-{self.semantic_shift}" if self.semantic_shift else ""

    def recorded_options(self) -> dict[str, object]:
        """Options that change what the splits hold, recorded in every run's config even when
        left at their defaults (a run with the real class is not one without it)."""
        return {"include_real": self.include_real}

    def setup(self, stage: str | None = None) -> None:
        if self.split is None:
            self.split = load_split(self.split_name, self.root, self.include_real, self.semantic_shift)

    def _loader(self, shuffle: bool) -> DataLoader:
        self.setup()
        return DataLoader(
            SplitDataset(self.split, self.transform),
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(shuffle=False)
