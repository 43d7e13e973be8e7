"""Building a :class:`GeneratorSplit` from (file, generator) entries of any public layout."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.errors import DataError
from datamodules.public.images import BadImageError, read_image
from datamodules.zoo.datamodule import GeneratorSplit

#: the splits every public layout serves (the zoo's names, so the runner and protocols need no change)
PUBLIC_SPLITS = (
    "known_train",
    "known_val",
    "known_test",
    "unseen_seed",
    "unseen_dataset",
    "unseen_architecture",
    "unseen_all",
    "real_train",
    "real_val",
    "real_test",
    "semantic_shift",
)


class EmptySplitError(DataError):
    """A split with no usable image (none listed, or every one skipped as bad)."""


@dataclass(frozen=True)
class Entry:
    """One image of a layout: its file, its generator, and where the layout named it (for errors)."""

    path: Path
    generator: str
    origin: str
    #: the encoded file itself, when the layout holds bytes rather than files (parquet, Arrow)
    data: bytes | None = None

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        return self.path.read_bytes()


def build_split(
    name: str,
    entries: list[Entry],
    resolution: int,
    size_policy: str,
    skip_bad: bool,
    generator_ids: tuple[str, ...] | None = None,
    skipped_rows: tuple[str, ...] = (),
) -> GeneratorSplit:
    """Decode every entry (by :mod:`datamodules.public.images`' rule) into one split.

    ``generator_ids`` fixes the label order (the known splits share it, so label k means the
    same generator in train, val and test); by default the split's own sorted generators.
    The data hash covers every file's bytes and generator, in order, the decoding rule and the
    list of skipped files (with ``skipped_rows``: rows the layout left out as bad before
    decoding) - so a fixed file, or one newly skipped, makes a new hash and a new run.
    """
    ids = generator_ids or tuple(sorted({e.generator for e in entries}))
    lookup = {g: i for i, g in enumerate(ids)}
    digest = hashlib.blake2b(f"{name}|{resolution}|{size_policy}".encode(), digest_size=8)
    images, labels, origins, skipped = [], [], [], list(skipped_rows)
    for entry in entries:
        if entry.generator not in lookup:
            raise DataError(
                f"{entry.origin}: generator {entry.generator!r} is not a known generator "
                f"(those of known_train: {list(ids)})"
            )
        try:
            source = io.BytesIO(entry.data) if entry.data is not None else str(entry.path)
            images.append(read_image(source, resolution, size_policy, origin=entry.origin))
        except BadImageError as error:
            if not skip_bad:
                raise
            skipped.append(str(error))
            continue
        labels.append(lookup[entry.generator])
        origins.append(entry.origin)
        digest.update(f"{entry.path.name}|{entry.generator}|".encode())
        digest.update(hashlib.blake2b(entry.read(), digest_size=8).digest())
    for line in skipped:
        digest.update(f"skipped|{line}|".encode())
    if not images:
        raise EmptySplitError(
            f"split {name!r} has no usable image" + (f" ({len(skipped)} skipped)" if skipped else "")
        )
    return GeneratorSplit(
        name=name,
        images=torch.from_numpy(np.stack(images)),
        labels=torch.tensor(labels),
        generator_ids=ids,
        manifest=tuple({"generator_id": g} for g in ids),
        image_indices=torch.arange(len(labels)),
        data_hash=digest.hexdigest(),
        skipped=tuple(skipped),
        origins=tuple(origins),
    )
