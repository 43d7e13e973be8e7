"""What the peers' folder layouts share: one folder per generator under a root, named as the
peer's code names it, and a rule for which of a generator's images are for training.

A subclass says which generator names its peer reads (:attr:`PeerFolders.peer_generators`),
where a generator's images of a part lie (:meth:`PeerFolders.part_files`) and how its layout
reads in an error (:attr:`PeerFolders.expected`). Folders the peer's code would not read are
left out, as it leaves them out, so a figure counts the generators the peer's table counts;
``generators`` names others (a newer release, a subset) where a user needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from core.errors import DataError
from datamodules.public.datamodule import GroupedDataModule
from datamodules.public.folders import image_files, nfc_names, require_named
from datamodules.public.imagefolder import TEST_EVERY
from datamodules.public.splits import Entry


def images_in(folder: Path, suffixes: tuple[str, ...] | None = None) -> list[Path]:
    """The visible image files of one folder, sorted by name (the peers' own order); only those
    of ``suffixes`` where the peer reads only some."""
    files = image_files(folder)
    return files if suffixes is None else [f for f in files if f.suffix.lower() in suffixes]


class PeerFolders(GroupedDataModule):
    """A peer's per-generator folders under ``root``; see the module docstring.

    Args:
        root: the folder holding the peer's generator folders.
        generators: the generator folders to read (default: the peer's own names, those present).
        (and the :class:`GroupedDataModule` arguments: known, unseen groups, val_fraction, real,
        include_real)
    """

    peer: ClassVar[str]
    #: the generator folders the peer's code reads, in its order
    peer_generators: ClassVar[tuple[str, ...]]
    #: the layout in words, for errors (``<root>/<generator>/...``)
    expected: ClassVar[str]
    #: the generators whose images are real, when the layout has them (the peer's real class)
    real_generators: ClassVar[tuple[str, ...]] = ()

    def __init__(self, root: str | Path, generators: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{root}: no such folder (expected the {self.peer} layout: {self.expected})")
        wanted = nfc_names(generators) or list(self.peer_generators)
        self.generators = [g for g in wanted if (self.root / g).is_dir() and g not in self.real_generators]
        if not self.generators:
            raise DataError(
                f"{root}: not the {self.peer} layout: none of its generator folders "
                f"{list(wanted)} is there (expected {self.expected})"
            )
        require_named(root, {*(self.known or []), *self.unseen}, self.generators)
        if self.known is None:
            self.known = [g for g in self.generators if g not in self.unseen and g not in self.real]

    def default_name(self) -> str:
        return self.root.resolve().name

    def known_generators(self) -> tuple[str, ...]:
        return tuple(self.known or [])

    def all_files(self, generator: str) -> list[Path]:
        """Every image of one generator the peer reads (a layout without a partition)."""
        raise NotImplementedError

    def part_files(self, generator: str, part: str) -> list[Path]:
        """A generator's images of ``part`` (``train`` or ``test``): by default every
        :data:`TEST_EVERY`-th image by name is a test image, as ``imagefolder`` cuts them; a
        layout with its own partition (DRCT-2M's COCO parts) overrides this."""
        files = self.all_files(generator)
        if not files:
            raise DataError(f"{self.root}: no images for {generator!r} (expected {self.expected})")
        is_test = [i % TEST_EVERY == TEST_EVERY - 1 for i in range(len(files))]
        return [f for f, test in zip(files, is_test, strict=True) if test == (part == "test")]

    def unseen_files(self, generator: str) -> list[Path]:
        """An unseen generator's images: all of them (none of it is fitted on)."""
        return self.all_files(generator)

    def part_entries(self, split: str, generators: list[str]) -> list[Entry]:
        entries = []
        for generator in generators:
            if split == "known_test":
                files = self.part_files(generator, "test")
            else:
                files = self.train_or_val(self.part_files(generator, "train"), split)
            entries += [Entry(f, generator, str(f)) for f in files]
        return entries

    def entries(self, split: str) -> list[Entry]:
        if split.startswith("known_"):
            return self.part_entries(split, list(self.known_generators()))
        return [Entry(f, g, str(f)) for g in self.unseen_group(split) for f in self.unseen_files(g)]
