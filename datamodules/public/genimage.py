"""GenImage-style folders (Zhu et al., NeurIPS 2023): ``root/<generator>/{train,val}/{ai,nature}/``.

Attribution uses the ``ai`` images; the folder name is the generator. Known generators
(``known``, default: every folder not named as unseen) give ``known_train`` and ``known_val``
from their ``train/ai`` images (a ``val_fraction`` share by name goes to val) and
``known_test`` from ``val/ai``; the unseen generators, grouped as ``unseen_seed`` /
``unseen_architecture`` / ``unseen_dataset`` by the user, give those splits from ``val/ai``
(``unseen_all``: all of them). An empty ``ai`` folder is an error naming it. With
``real: [<generator>, ...]`` those folders' ``nature`` images are the real images (``real_*``
splits, split as ``ai`` ones are; and with ``include_real: true`` a known class ``real``).

    modelprint run --dataset=genimage \\
        --dataset_args='{root: /data/GenImage, unseen_architecture: [VQDM, wukong]}'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import DataError
from datamodules import register_dataset
from datamodules.public.datamodule import GroupedDataModule
from datamodules.public.folders import generator_folders, image_files, require_named
from datamodules.public.splits import Entry


def ai_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder (expected <generator>/train|val/{folder.name})")
    files = image_files(folder)
    if not files:
        raise DataError(f"{folder}: no images in this generator folder")
    return files


@register_dataset("genimage")
class GenImageDataModule(GroupedDataModule):
    """GenImage-style folders, one per generator; see the module docstring.

    Args:
        root: the folder holding one folder per generator.
        (and the :class:`GroupedDataModule` arguments: known, unseen groups, val_fraction)
    """

    def __init__(
        self,
        root: str | Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image_root = Path(root)
        if not self.image_root.is_dir():
            raise DataError(f"{root}: GenImage root folder not found")
        unseen = self.unseen
        self.on_disk = generator_folders(self.image_root)
        require_named(root, {*(self.known or []), *unseen}, self.on_disk)
        self.known = self.known or [f for f in self.on_disk if f not in unseen]

    def known_generators(self) -> tuple[str, ...]:
        return tuple(self.known)

    def default_name(self) -> str:
        return self.image_root.resolve().name

    real_in_generator_folders = True

    def part_entries(self, split: str, generators: list[str], kind: str = "ai") -> list[Entry]:
        part = "val" if split == "known_test" else "train"
        entries = []
        for generator in generators:
            files = ai_images(self.image_root / self.on_disk[generator] / part / kind)
            if split != "known_test":
                files = self.train_or_val(files, split)
            entries += [Entry(f, generator, str(f)) for f in files]
        return entries

    def real_entries(self, split: str) -> list[Entry]:
        """The ``nature`` images of the generator folders named in ``real`` (GenImage's real
        class: ImageNet photos, beside each generator's own)."""
        if not self.real:
            return super().real_entries(split)
        part = split.replace("real_", "known_", 1)
        return [
            Entry(e.path, f"real-{e.generator}", e.origin)
            for e in self.part_entries(part, self.real, "nature")
        ]

    def entries(self, split: str) -> list[Entry]:
        if split.startswith("known_"):
            return self.part_entries(split, list(self.known))
        return [
            Entry(f, generator, str(f))
            for generator in self.unseen_group(split)
            for f in ai_images(self.image_root / self.on_disk[generator] / "val" / "ai")
        ]
