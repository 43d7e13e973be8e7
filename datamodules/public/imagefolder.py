"""A folder of generators: ``path/<generator>/*.png`` - the simplest way to bring your own.

Every sub-folder (hidden ones left out) is one generator and, unless listed in ``known``, an
*unseen* one: with no ``known`` at all the whole folder is ``unseen_all``, and the known splits
(what methods fit their heads on, and zero shot takes its threshold from) come from the run's
reference data set (the embedded zoo unless ``--reference`` says otherwise; the run's record
names it). Unseen generators may also be grouped (``unseen_seed`` / ``unseen_architecture`` /
``unseen_dataset``) for open set's per-group figures; ``unseen_all`` holds every unseen generator either way.
Known generators' images are cut by position (sorted by name): every 5th to ``known_test``,
of the rest a ``val_fraction`` share, spread evenly, to ``known_val``.

    modelprint run --protocols=[zero_shot] --dataset=imagefolder --dataset_args='{path: DIR}'
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.errors import DataError
from datamodules import register_dataset
from datamodules.public.datamodule import GroupedDataModule
from datamodules.public.folders import generator_folders, image_files, require_named
from datamodules.public.splits import Entry

log = logging.getLogger(__name__)

#: every n-th image of a known generator is a test image
TEST_EVERY = 5


@register_dataset("imagefolder")
class ImageFolderDataModule(GroupedDataModule):
    """One sub-folder per generator, all unseen unless named ``known``; see the module docstring.

    Args:
        path: the folder holding one folder of images per generator.
        known: generators to treat as known (default: none - the reference data set's are used).
        (and the :class:`GroupedDataModule` arguments: unseen groups, val_fraction)
    """

    def __init__(self, path: str | Path, known: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(known=known, **kwargs)
        self.folder = Path(path)
        if not self.folder.is_dir():
            raise DataError(f"{path}: no such folder (expected one sub-folder of images per generator)")
        self.untested: set[str] = set()  # known generators too small for a test image (warned once)
        self.on_disk = generator_folders(self.folder)
        self.generators = list(self.on_disk)
        require_named(path, {*(self.known or []), *self.unseen}, self.generators)
        if not self.generators:
            raise DataError(f"{path}: no generator folders (expected {path}/<generator>/*.png)")

    def default_name(self) -> str:
        return self.folder.resolve().name

    def known_generators(self) -> tuple[str, ...]:
        return tuple(self.known or [])

    def images(self, generator: str) -> list[Path]:
        folder = self.folder / self.on_disk[generator]
        files = image_files(folder)
        if not files:
            raise DataError(f"{folder}: no images in this generator folder")
        return files

    def part_entries(self, split: str, generators: list[str]) -> list[Entry]:
        entries = []
        for generator in generators:
            files = self.images(generator)
            test = [f for i, f in enumerate(files) if i % TEST_EVERY == TEST_EVERY - 1]
            if not test and generator not in self.untested:
                self.untested.add(generator)
                log.warning(
                    "%s: known generator %r has %d image(s), fewer than %d: none is a test image, so "
                    "it is fitted on but absent from known_test",
                    self.folder,
                    generator,
                    len(files),
                    TEST_EVERY,
                )
            chosen = (
                test
                if split == "known_test"
                else self.train_or_val([f for f in files if f not in test], split)
            )
            entries += [Entry(f, generator, str(f)) for f in chosen]
        return entries

    def entries(self, split: str) -> list[Entry]:
        if split.startswith("known_"):
            return self.part_entries(split, list(self.known_generators()))
        return [Entry(f, g, str(f)) for g in self.unseen_group(split) for f in self.images(g)]

    def unseen_all_entries(self) -> list[Entry]:
        not_unseen = {*self.known_generators(), *self.real}
        return [Entry(f, g, str(f)) for g in self.generators if g not in not_unseen for f in self.images(g)]
