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

from core.errors import ConfigError, DataError
from datamodules import register_dataset
from datamodules.public.datamodule import GroupedDataModule
from datamodules.public.images import require_regular_file
from datamodules.public.splits import Entry

#: the generator of rows that ``label_column`` marks real
REAL_GENERATOR = "real"


@register_dataset("hf")
class HuggingFaceDataModule(GroupedDataModule):
    """A Hugging Face data set with image and generator columns; see the module docstring.

    Args:
        path: ``load_dataset``'s path (local directory, builder name, or Hub id when online).
        data_files: ``load_dataset``'s data_files (e.g. ``{train: a.parquet, test: b.parquet}``).
        image_column, generator_column: column names.
        train_split, test_split: the data set's split names.
        data_dir: ``load_dataset``'s data_dir (a sub-folder of the data set).
        content_column: a column naming each image's content (domain, prompt class), for
            ``semantic_shift``.
        semantic_shift: a value of ``content_column``: the known splits keep only rows of that
            content, and the split ``semantic_shift`` holds the known generators' test rows of
            any other content (ImageAttributionBench's semantic shift: the same generators,
            content they were not fitted on; each is its own counterpart).
        label_column, real_label: a real-or-fake column and its value for real rows: those rows
            belong to the generator ``real`` whatever their generator column says (AI-GenBench
            leaves it empty, Community Forensics names the real source); name ``real: [real]``
            to make them the real images.
        (and the :class:`GroupedDataModule` arguments: known, unseen groups, val_fraction, real)
    """

    def __init__(
        self,
        path: str,
        data_files: dict[str, Any] | str | None = None,
        image_column: str = "image",
        generator_column: str = "generator",
        train_split: str = "train",
        test_split: str = "test",
        data_dir: str | None = None,
        content_column: str | None = None,
        semantic_shift: str | None = None,
        label_column: str | None = None,
        real_label: int | str = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.label_column, self.real_label = label_column, real_label
        if semantic_shift is not None and content_column is None:
            raise ConfigError(
                "semantic_shift needs content_column: the column that names each image's content"
            )
        self.content_column, self.semantic_shift = content_column, semantic_shift
        self.path, self.data_files, self.data_dir = path, data_files, data_dir
        self.image_column, self.generator_column = image_column, generator_column
        self.train_split, self.test_split = train_split, test_split
        self._rows: dict[str, list[tuple[bytes, str, int, str | None]]] = {}
        self._bad_rows: dict[str, tuple[str, ...]] = {}

    def _load(self, split: str) -> list[tuple[bytes, str, int, str | None]]:
        """(encoded image, generator, row index, content) of one split of the data set, read once."""
        if split in self._rows:
            return self._rows[split]
        import datasets

        local = Path(self.path)
        was_shown = not datasets.utils.are_progress_bars_disabled()
        datasets.disable_progress_bars()  # the runner shows progress; a failure stays one line
        try:
            if local.is_dir() and ((local / "dataset_info.json").exists() or (local / "state.json").exists()):
                table = datasets.load_from_disk(str(local))
                if isinstance(table, datasets.DatasetDict):  # ``a+b`` joins splits, as load_dataset's
                    table = datasets.concatenate_datasets([table[part] for part in split.split("+")])
            else:
                try:
                    table = datasets.load_dataset(
                        self.path, data_files=self.data_files, data_dir=self.data_dir, split=split
                    )
                except ValueError as error:
                    if "Unknown split" not in str(error):
                        raise
                    raise DataError(
                        f"{self.path}: the data set has no split {split!r} ({' '.join(str(error).split())}); "
                        "name its splits with train_split / test_split in --dataset_args"
                    ) from None
        finally:
            if was_shown:
                datasets.enable_progress_bars()
        for column in (self.image_column, self.generator_column, self.content_column, self.label_column):
            if column is None:
                continue
            if column not in table.column_names:
                raise DataError(f"{self.path} [{split}]: no column {column!r}; columns: {table.column_names}")
        feature = table.features[self.generator_column]
        names = feature.names if isinstance(feature, datasets.ClassLabel) else None
        if isinstance(table.features[self.image_column], datasets.Image):
            table = table.cast_column(self.image_column, datasets.Image(decode=False))
        rows, bad = [], []
        contents = table[self.content_column] if self.content_column else [None] * len(table)
        real_rows = self._real_rows(table)
        for i, (cell, generator, content) in enumerate(
            zip(table[self.image_column], table[self.generator_column], contents, strict=True)
        ):
            if real_rows[i]:
                generator, names_of = REAL_GENERATOR, None
            else:
                names_of = names
            data = cell["bytes"] if isinstance(cell, dict) else cell
            if data is None and isinstance(cell, dict) and cell.get("path"):
                data = self._read_referenced(cell["path"], f"{self.path} [{split}] row {i}")
            problem = (
                "the image column holds no encoded image"
                if not isinstance(data, bytes)
                else "no generator (null label)"
                if generator is None
                else None
            )
            if problem is not None:  # a row that belongs to no generator, or shows nothing
                where = f"{self.path} [{split}] row {i}: {problem}"
                if not self.skip_bad:
                    raise DataError(f"{where} (skip_bad: true skips such rows)")
                bad.append(where)
                continue
            content = None if content is None else str(content)
            rows.append((data, names_of[generator] if names_of else str(generator), i, content))
        self._rows[split], self._bad_rows[split] = rows, tuple(bad)
        return rows

    def _real_rows(self, table: Any) -> list[bool]:
        """Per row, whether ``label_column`` marks it real (its value, or a ``ClassLabel``'s name
        for it, equals ``real_label``)."""
        if self.label_column is None:
            return [False] * len(table)
        import datasets

        feature = table.features[self.label_column]
        names = feature.names if isinstance(feature, datasets.ClassLabel) else None
        wanted = str(self.real_label)
        return [
            value is not None and (str(value) == wanted or (names is not None and names[value] == wanted))
            for value in table[self.label_column]
        ]

    def default_name(self) -> str:
        """The folder or Hub id, or for a builder (``parquet``) the first data file's stem."""
        files = self.data_files
        first = files if isinstance(files, str) else next(iter((files or {}).values()), None)
        first = first[0] if isinstance(first, list) and first else first
        if isinstance(first, str) and not Path(self.path).exists():
            return Path(first).stem
        return Path(self.path).resolve().name if Path(self.path).exists() else self.path.replace("/", "_")

    def allowed_roots(self) -> list[Path]:
        """Where an image cell's ``path`` may point: the data set's own folder, the folders of its
        ``data_files``, and the ``datasets`` / Hub caches (where a downloaded set's files live)."""
        import datasets
        import huggingface_hub.constants

        files = self.data_files
        named = [files] if isinstance(files, str) else list((files or {}).values())
        flat = [f for value in named for f in ([value] if isinstance(value, str) else value)]
        roots = [Path(self.path), *(Path(f).parent for f in flat)]
        roots += [Path(datasets.config.HF_DATASETS_CACHE), Path(huggingface_hub.constants.HF_HUB_CACHE)]
        return list(dict.fromkeys(r.resolve() for r in roots if r.is_dir()))

    def _read_referenced(self, path: str, where: str) -> bytes:
        """The bytes of an image a cell names by path, only from inside :meth:`allowed_roots`."""
        resolved = Path(path).resolve()
        roots = self.allowed_roots()
        if not any(resolved.is_relative_to(root) for root in roots):
            raise DataError(
                f"{where}: image path {path!r} leaves the data set's folders ({', '.join(map(str, roots))})"
            )
        require_regular_file(path, name=f"{where}: {path}")
        return resolved.read_bytes()

    def skipped_rows(self, split: str) -> tuple[str, ...]:
        """Bad rows of the train part are listed with ``known_train``, the test part's with ``known_test``."""
        part = {"known_train": self.train_split, "known_test": self.test_split}.get(split)
        if part is None:
            return ()
        self._load(part)
        return self._bad_rows[part]

    def known_generators(self) -> tuple[str, ...]:
        present = sorted({row[1] for row in self._load(self.train_split)})
        return tuple(self.known or [g for g in present if g not in self.unseen and g not in self.real])

    def _entry(self, row: tuple, part: str) -> Entry:
        data, generator, i = row[:3]
        return Entry(Path(f"{part}/{i}"), generator, f"{self.path} [{part}] row {i}", data)

    def part_entries(self, split: str, generators: list[str]) -> list[Entry]:
        wanted = set(generators)
        part = self.test_split if split == "known_test" else self.train_split
        rows = [r for r in self._load(part) if r[1] in wanted and self._on_known_content(r)]
        if split != "known_test":
            rows = self.train_or_val(rows, split)
        return [self._entry(r, part) for r in rows]

    def _on_known_content(self, row: tuple) -> bool:
        """Without a semantic shift every row; with one, rows of the known content only."""
        return self.semantic_shift is None or row[3] == self.semantic_shift

    def semantic_shift_entries(self) -> list[Entry]:
        if self.semantic_shift is None:
            return super().semantic_shift_entries()
        known = set(self.known_generators())
        rows = [r for r in self._load(self.test_split) if r[1] in known and not self._on_known_content(r)]
        if not rows:
            raise DataError(
                f"{self.path}: no test row of a known generator outside content {self.semantic_shift!r}"
            )
        return [self._entry(r, self.test_split) for r in rows]

    def entries(self, split: str) -> list[Entry]:
        if split.startswith("known_"):
            return self.part_entries(split, list(self.known_generators()))
        group = set(self.unseen_group(split))
        return [self._entry(r, self.test_split) for r in self._load(self.test_split) if r[1] in group]
