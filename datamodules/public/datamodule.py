"""The DataModule every public layout shares: zoo split names, decoding rule, bad-file policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from core.errors import AbsentSplitError, ConfigError
from datamodules.public.images import SIZE_POLICIES
from datamodules.public.splits import PUBLIC_SPLITS, Entry, build_split
from datamodules.zoo.datamodule import RealGeneratorDataModule, UnknownSplitError

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
        else:
            entries = self.entries(name)
        ids = self.known_generators() if name.startswith("known_") else None
        self.split = build_split(
            name, entries, self.resolution, self.size_policy, self.skip_bad, ids, self.skipped_rows(name)
        )

    def _optional(self, group: str) -> list[Entry]:
        """An unseen group may be absent from a layout (e.g. no unknown-seed models)."""
        try:
            return self.entries(group)
        except AbsentSplitError:
            return []


class GroupedDataModule(PublicDataModule):
    """A layout whose generators the user groups: known ones, and unseen ones by how they differ
    (seed / architecture / data set). Known generators' training images are split into train
    and validation (every ``1/val_fraction``-th image, in the layout's order, goes to validation).

    Args:
        known: known generators (default: every generator not listed as unseen).
        unseen_seed, unseen_architecture, unseen_dataset: the unseen generators, grouped.
        val_fraction: share of the known generators' training images kept for validation.
        (and the :class:`PublicDataModule` arguments)
    """

    def __init__(
        self,
        known: list[str] | None = None,
        unseen_seed: list[str] | None = None,
        unseen_architecture: list[str] | None = None,
        unseen_dataset: list[str] | None = None,
        val_fraction: float = 0.2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0 < val_fraction < 1:
            raise ConfigError(
                f"val_fraction must be in (0, 1), got {val_fraction}: 0 or less would validate on the "
                "training images themselves, 1 or more would leave none to train on"
            )
        self.known = sorted(known) if known else None
        self.groups = {
            "unseen_seed": list(unseen_seed or []),
            "unseen_architecture": list(unseen_architecture or []),
            "unseen_dataset": list(unseen_dataset or []),
        }
        roles: dict[str, str] = {g: "known" for g in self.known or []}
        for group, generators in self.groups.items():
            for generator in generators:
                if generator in roles:
                    raise ConfigError(
                        f"generator {generator!r} is named as {roles[generator]} and {group}: "
                        "a generator has one role (known, or one unseen group)"
                    )
                roles[generator] = group
        self.every = max(2, round(1 / val_fraction))

    @property
    def unseen(self) -> set[str]:
        return {g for group in self.groups.values() for g in group}

    def unseen_group(self, split: str) -> list[str]:
        """The generators the user named for an unseen split; none named = the split is absent."""
        if not self.groups[split]:
            raise AbsentSplitError(f"no generators named for {split} (dataset_args: {split}: [...])")
        return self.groups[split]

    def train_or_val(self, items: list[Any], split: str) -> list[Any]:
        """The known_train or known_val share of one generator's (or one table's) training items."""
        to_val = split == "known_val"
        return [item for i, item in enumerate(items) if (i % self.every == 0) == to_val]
