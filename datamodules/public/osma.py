"""POSE/OSMA annotation files (Yang et al., CVPR 2023): ``path<TAB>label`` per line.

A directory holds one file per split - by default ``train.txt``, ``val.txt``,
``test_known.txt``, ``test_unknown_seed.txt``, ``test_unknown_architecture.txt``,
``test_unknown_dataset.txt`` (``files`` renames them) - whose paths are relative to ``root``
(default: the annotation directory). A label is the generator's id (an integer or a name);
``unseen_all`` is the three unknown files together. Blank lines and ``#`` comments are
ignored; any other line without exactly one tab between a non-empty path and label is an
error naming the file and line.

    modelprint run --dataset=osma --dataset_args='{annotations: /data/osma/split1, root: /data/osma}'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import AbsentSplitError, ModelprintError
from datamodules import register_dataset
from datamodules.public.datamodule import PublicDataModule
from datamodules.public.splits import Entry

DEFAULT_FILES = {
    "known_train": "train.txt",
    "known_val": "val.txt",
    "known_test": "test_known.txt",
    "unseen_seed": "test_unknown_seed.txt",
    "unseen_architecture": "test_unknown_architecture.txt",
    "unseen_dataset": "test_unknown_dataset.txt",
}


class AnnotationError(ModelprintError, ValueError):
    """A malformed annotation line or a missing annotation file; the message says where."""


def read_annotations(file: Path, root: Path) -> list[Entry]:
    """The entries of one annotation file; a path that resolves outside ``root`` (``..``, an
    absolute path, a link out) is an error naming the line - the layout never reads elsewhere."""
    if not file.is_file():
        raise AnnotationError(f"{file}: annotation file not found")
    try:
        text = file.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of the first path
    except UnicodeDecodeError as error:
        raise AnnotationError(f"{file}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    inside = root.resolve()
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.rstrip("\r").split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise AnnotationError(f"{file}:{number}: expected 'path<TAB>label', got {line!r}")
        name = fields[0].strip()
        path = root / name
        try:
            resolved = path.resolve()
        except (RuntimeError, OSError):  # a symbolic link loop (RuntimeError in Python 3.11)
            resolved = None  # never readable, so never outside: the decoder reports it as a bad image
        if resolved is not None and not resolved.is_relative_to(inside):
            raise AnnotationError(f"{file}:{number}: path {name!r} leaves the data set root {root}")
        entries.append(Entry(path, fields[1].strip(), f"{file}:{number}"))
    return entries


@register_dataset("osma")
class OSMADataModule(PublicDataModule):
    """POSE/OSMA annotation files (``path<TAB>label``), one per split; see the module docstring.

    Args:
        annotations: the directory of annotation files.
        root: the directory the paths are relative to (default: ``annotations``).
        files: split -> file name overrides.
        (and the :class:`PublicDataModule` arguments: split, resolution, size_policy, skip_bad, ...)
    """

    def __init__(
        self,
        annotations: str | Path,
        root: str | Path | None = None,
        files: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.annotations = Path(annotations)
        self.image_root = Path(root) if root is not None else self.annotations
        self.files = {**DEFAULT_FILES, **(files or {})}

    def default_name(self) -> str:
        return self.image_root.resolve().name

    def entries(self, split: str) -> list[Entry]:
        file = self.annotations / self.files[split]
        if split.startswith("unseen_") and not file.exists():  # a layout without this unseen group
            raise AbsentSplitError(f"{file}: no such annotation file, so no {split} generators")
        return read_annotations(file, self.image_root)
