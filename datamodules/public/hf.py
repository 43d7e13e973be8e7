"""Hugging Face ``datasets`` with an image column and a generator column (e.g. Tiny-GenImage's layout).

``path`` is what ``datasets.load_dataset`` takes: a local directory saved with
``save_to_disk`` (detected by its ``dataset_info.json`` / ``state.json``), a builder name such
as ``parquet`` with ``data_files``, or a Hub id (only when online: tests and the default
benchmark set ``HF_HUB_OFFLINE=1``, so a missing local copy fails fast). Columns are
configurable (``image_column``, ``generator_column``); a generator column of class indices
is mapped to its ``ClassLabel`` names. Splits: the known generators' images of
``train_split`` give ``known_train``/``known_val`` (``val_fraction``), those of ``test_split``
give ``known_test``; unseen generators, grouped by the user as for GenImage, come from
``test_split``. Images are read from their encoded bytes (no decoding by ``datasets``), by
the suite's one rule (``images.py``).

    modelprint run --dataset=hf --dataset_args='{path: parquet,
        data_files: {train: tr.parquet, test: te.parquet}, unseen_architecture: [VQDM]}'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datamodules import register_dataset
from datamodules.public.datamodule import GroupedDataModule
from datamodules.public.splits import Entry


@register_dataset("hf")
class HuggingFaceDataModule(GroupedDataModule):
    """A Hugging Face data set with image and generator columns; see the module docstring.

    Args:
        path: ``load_dataset``'s path (local directory, builder name, or Hub id when online).
        data_files: ``load_dataset``'s data_files (e.g. ``{train: a.parquet, test: b.parquet}``).
        image_column, generator_column: column names.
        train_split, test_split: the data set's split names.
        (and the :class:`GroupedDataModule` arguments: known, unseen groups, val_fraction)
    """

    def __init__(
        self,
        path: str,
        data_files: dict[str, Any] | str | None = None,
        image_column: str = "image",
        generator_column: str = "generator",
        train_split: str = "train",
        test_split: str = "test",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.path, self.data_files = path, data_files
        self.image_column, self.generator_column = image_column, generator_column
        self.train_split, self.test_split = train_split, test_split
        self._rows: dict[str, list[tuple[bytes, str, int]]] = {}

    def _load(self, split: str) -> list[tuple[bytes, str, int]]:
        """(encoded image, generator, row index) of one split of the data set, read once."""
        if split in self._rows:
            return self._rows[split]
        import datasets

        local = Path(self.path)
        if local.is_dir() and ((local / "dataset_info.json").exists() or (local / "state.json").exists()):
            table = datasets.load_from_disk(str(local))
            table = table[split] if isinstance(table, datasets.DatasetDict) else table
        else:
            table = datasets.load_dataset(self.path, data_files=self.data_files, split=split)
        for column in (self.image_column, self.generator_column):
            if column not in table.column_names:
                raise KeyError(f"{self.path} [{split}]: no column {column!r}; columns: {table.column_names}")
        feature = table.features[self.generator_column]
        names = feature.names if isinstance(feature, datasets.ClassLabel) else None
        if isinstance(table.features[self.image_column], datasets.Image):
            table = table.cast_column(self.image_column, datasets.Image(decode=False))
        rows = []
        for i, (cell, generator) in enumerate(
            zip(table[self.image_column], table[self.generator_column], strict=True)
        ):
            data = cell["bytes"] if isinstance(cell, dict) else cell
            if data is None and isinstance(cell, dict) and cell.get("path"):
                data = Path(cell["path"]).read_bytes()
            if not isinstance(data, bytes):
                raise ValueError(f"{self.path} [{split}] row {i}: the image column holds no encoded image")
            rows.append((data, names[generator] if names else str(generator), i))
        self._rows[split] = rows
        return rows

    def known_generators(self) -> tuple[str, ...]:
        present = sorted({g for _, g, _ in self._load(self.train_split)})
        return tuple(self.known or [g for g in present if g not in self.unseen])

    def entries(self, split: str) -> list[Entry]:
        def entry(data: bytes, generator: str, i: int, part: str) -> Entry:
            return Entry(Path(f"{part}/{i}"), generator, f"{self.path} [{part}] row {i}", data)

        if split.startswith("known_"):
            known = set(self.known_generators())
            part = self.test_split if split == "known_test" else self.train_split
            rows = [r for r in self._load(part) if r[1] in known]
            if split != "known_test":
                rows = self.train_or_val(rows, split)
            return [entry(*r, part) for r in rows]
        group = set(self.groups[split])
        return [entry(*r, self.test_split) for r in self._load(self.test_split) if r[1] in group]
