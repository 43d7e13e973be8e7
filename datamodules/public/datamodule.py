"""The DataModule every public layout shares: zoo split names, decoding rule, bad-file policy."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any, ClassVar

import torch

from core.errors import AbsentSplitError, ConfigError
from datamodules.public.folders import nfc_names
from datamodules.public.images import SIZE_POLICIES
from datamodules.public.splits import PUBLIC_SPLITS, Entry, build_split
from datamodules.zoo.datamodule import REAL_CLASS, SEMANTIC_SHIFT, RealGeneratorDataModule, UnknownSplitError

UNSEEN_GROUPS = ("unseen_seed", "unseen_architecture", "unseen_dataset")


class PublicDataModule(RealGeneratorDataModule):
    """Serves one split of a public layout, with the zoo's split names and loaders.

    Subclasses say which files make a split (:meth:`entries`) and, optionally, the known
    generators (:meth:`known_generators`, default: those of ``known_train``).

    Args:
        split: one of ``known_train|val|test``, ``unseen_seed|architecture|dataset|all``.
        resolution: side of the square images the methods get (see ``images.py``).
        size_policy: ``center_crop`` (default, no resampling) or ``resize``.
        skip_bad: skip unreadable images (listed in the split and the run's record) instead of failing.
        name: the data set's name on the board and in the store (default: the folder or file
            name, see :meth:`default_name`); each name keeps its own current version.
        batch_size, num_workers, transform: as for the zoo.
    """

    def __init__(
        self,
        split: str = "known_test",
        resolution: int = 32,
        size_policy: str = "center_crop",
        skip_bad: bool = False,
        name: str | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if split not in PUBLIC_SPLITS:
            raise UnknownSplitError(f"unknown split {split!r}; valid: {', '.join(PUBLIC_SPLITS)}")
        if size_policy not in SIZE_POLICIES:
            raise ConfigError(f"unknown size_policy {size_policy!r}; valid: {SIZE_POLICIES}")
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
            raise ConfigError(f"resolution must be a whole number of pixels, at least 1; got {resolution!r}")
        super().__init__(
            split="known_test",
            batch_size=batch_size,
            num_workers=num_workers,
            transform=transform,
            include_real=False,
        )
        self.split_name, self.resolution, self.size_policy, self.skip_bad = (
            split,
            resolution,
            size_policy,
            skip_bad,
        )
        self.name = name

    @property
    def data_set_name(self) -> str:
        """What runs on this data set are filed under, beside the loader's registry name."""
        return self.name or self.default_name()

    def recorded_options(self) -> dict[str, object]:
        """No option of a public layout changes its splits beyond its recorded arguments."""
        return {}

    def default_name(self) -> str:
        """The data set's name when the user gives none: the folder or file it is read from."""
        return ""

    def unseen_all_entries(self) -> list[Entry]:
        """Every unseen generator's images: by default the union of the named unseen groups."""
        return [e for group in UNSEEN_GROUPS for e in self._optional(group)]

    def entries(self, split: str) -> list[Entry]:
        """The split's images; an unseen group the layout lacks raises :class:`AbsentSplitError`."""
        raise NotImplementedError

    def skipped_rows(self, split: str) -> tuple[str, ...]:
        """Rows of the layout left out as bad before decoding (a row without a generator, where
        ``skip_bad`` asked for it), listed with the split's skipped files."""
        return ()

    def known_generators(self) -> tuple[str, ...]:
        return tuple(sorted({e.generator for e in self.entries("known_train")}))

    def setup(self, stage: str | None = None) -> None:
        if self.split is not None:
            return
        name = self.split_name
        if name == "unseen_all":
            entries = self.unseen_all_entries()
            if not entries:
                raise AbsentSplitError(f"no unseen generators in this data set: none of {UNSEEN_GROUPS}")
        elif name.startswith("known_") and not self.known_generators():
            raise AbsentSplitError(
                "no known generators in this data set: the known splits come from the reference data set"
            )
        elif name.startswith("real_"):
            entries = self.real_entries(name)
        elif name == SEMANTIC_SHIFT:
            entries = self.semantic_shift_entries()
        else:
            entries = self.entries(name)
        ids = self.known_generators() if name.startswith("known_") else None
        if ids is not None and self.include_real:  # real images as a known class (OSMA's)
            real = [Entry(e.path, REAL_CLASS, e.origin, e.data) for e in self.real_entries(name)]
            entries, ids = entries + real, tuple(sorted((*ids, REAL_CLASS)))
        self.split = build_split(
            name, entries, self.resolution, self.size_policy, self.skip_bad, ids, self.skipped_rows(name)
        )
        if name == SEMANTIC_SHIFT:
            self.split = dataclasses.replace(self.split, counterparts=self.split.generator_ids)

    def semantic_shift_entries(self) -> list[Entry]:
        """The known generators' images of content they were not fitted on: none unless the
        layout says what each image shows (the Hugging Face loader's ``content_column``)."""
        raise AbsentSplitError("no semantic-shift split: this layout names no content per image")

    def real_entries(self, split: str) -> list[Entry]:
        """The real images of a part (``real_train``; ``known_train`` for the real class):
        none unless the layout names where they are (``real``)."""
        raise AbsentSplitError("no real images named in this data set (dataset_args: real: [...])")

    def _optional(self, group: str) -> list[Entry]:
        """An unseen group may be absent from a layout (e.g. no unknown-seed models)."""
        try:
            return self.entries(group)
        except AbsentSplitError:
            return []


class GroupedDataModule(PublicDataModule):
    """A layout whose generators the user groups: known ones, and unseen ones by how they differ
    (seed / architecture / data set). Known generators' training images are split into train
    and validation (a ``val_fraction`` share, spread evenly in the layout's order from the first
    image, goes to validation: every n-th for ``1/n``).

    Args:
        known: known generators (default: every generator not listed as unseen).
        unseen_seed, unseen_architecture, unseen_dataset: the unseen generators, grouped.
        val_fraction: share of the known generators' training images kept for validation.
        real: the generators (folders, labels) that are real images, not a generator's: split
            as known generators' are into ``real_train`` / ``real_val`` / ``real_test`` (the
            detection protocol's); GenImage reads them from those generators' ``nature`` folders.
        include_real: the known splits also hold the class ``real`` (those images; off by
            default here, as a layout must first say where its real images are).
        (and the :class:`PublicDataModule` arguments)
    """

    #: whether ``real`` names generator folders that hold real images beside the generated
    #: ones (GenImage's ``nature``) rather than sources of their own
    real_in_generator_folders: ClassVar[bool] = False

    def __init__(
        self,
        known: list[str] | None = None,
        unseen_seed: list[str] | None = None,
        unseen_architecture: list[str] | None = None,
        unseen_dataset: list[str] | None = None,
        val_fraction: float = 0.2,
        real: list[str] | None = None,
        include_real: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.real, self.include_real = sorted(nfc_names(real) or []), include_real
        if include_real and not self.real:
            raise ConfigError("include_real: true needs the real images named (dataset_args: real: [...])")
        if not 0 < val_fraction < 1:
            raise ConfigError(
                f"val_fraction must be in (0, 1), got {val_fraction}: 0 or less would validate on the "
                "training images themselves, 1 or more would leave none to train on"
            )
        self.known = sorted(nfc_names(known)) if known else None
        self.groups = {
            "unseen_seed": nfc_names(unseen_seed) or [],
            "unseen_architecture": nfc_names(unseen_architecture) or [],
            "unseen_dataset": nfc_names(unseen_dataset) or [],
        }
        roles: dict[str, str] = {g: "known" for g in self.known or []}
        named_real = {} if self.real_in_generator_folders else {"real": self.real}
        for group, generators in {**self.groups, **named_real}.items():
            for generator in generators:
                if generator in roles:
                    raise ConfigError(
                        f"generator {generator!r} is named as {roles[generator]} and {group}: "
                        "a generator has one role (known, or one unseen group)"
                    )
                roles[generator] = group
        # exact share, not ``1/round(1/f)``: every value in 0.4..0.99 used to give 0.5
        self.val_share = Fraction(val_fraction).limit_denominator(1000)

    @property
    def unseen(self) -> set[str]:
        return {g for group in self.groups.values() for g in group}

    def part_entries(self, split: str, generators: list[str]) -> list[Entry]:
        """The images of ``generators`` a known split (``known_train``/``val``/``test``) would
        take of a known generator: the loader's own rule, which real images follow too."""
        raise NotImplementedError

    def real_entries(self, split: str) -> list[Entry]:
        if not self.real:
            return super().real_entries(split)
        part = split.replace("real_", "known_", 1)
        return [
            Entry(e.path, f"real-{e.generator}", e.origin, e.data) for e in self.part_entries(part, self.real)
        ]

    def unseen_group(self, split: str) -> list[str]:
        """The generators the user named for an unseen split; none named = the split is absent."""
        if not self.groups[split]:
            raise AbsentSplitError(f"no generators named for {split} (dataset_args: {split}: [...])")
        return self.groups[split]

    def train_or_val(self, items: list[Any], split: str) -> list[Any]:
        """The known_train or known_val share of one generator's (or one table's) training items."""
        to_val = split == "known_val"
        return [item for i, item in enumerate(items) if self.goes_to_val(i) == to_val]

    def goes_to_val(self, position: int) -> bool:
        """Whether the item at ``position`` is a validation item: wherever ``position * share``
        steps past an integer (exact fractions), so the first item and then a ``val_fraction``
        share spread evenly go to validation - for ``1/n`` exactly every n-th from the first."""
        share = self.val_share
        return math.floor(position * share) != math.floor((position - 1) * share)
