"""Which plot sits beside which table or on which method page.

The board's plots are named after what they draw (``open_set_<split>_<dataset>.png``,
``robustness_<protocol>_<split>_<metric>.png``, ``fingerprint_map_<method>_<dataset>.png``, ...);
here each place on the site asks for the names it would have, spelt by the same
:func:`core.paths.file_slug` and :func:`leaderboards.plots.dataset_suffix` the plotters use, so
no file name is parsed back into parts. Whatever no place asked for is still shown (as "other
plots"), so no plot the board drew goes missing from the site.
"""

from __future__ import annotations

from pathlib import Path

from core.paths import file_slug
from leaderboards.plots import dataset_suffix
from leaderboards.tables import Table


class PlotIndex:
    """The board's plots by file name, remembering which were placed."""

    def __init__(self, images: list[Path]) -> None:
        self.by_name = {Path(image).name: Path(image) for image in images}
        self.placed: set[str] = set()

    def take(self, *names: str) -> list[str]:
        """The names among ``names`` that exist, marked as placed (a plot may sit in two places)."""
        found = [name for name in names if name in self.by_name]
        self.placed.update(found)
        return found

    def for_table(self, table: Table) -> list[str]:
        """A protocol table's curves (ROC and OSCR per split) or a robustness table's plot."""
        if table.value_metric:
            stem = "_".join(map(file_slug, ("robustness", table.protocol, table.split, table.value_metric)))
            return self.take(f"{stem}.png")
        return self.take(f"{table.protocol}_{file_slug(table.split)}{dataset_suffix(table.dataset)}.png")

    def for_dataset(self, prefix: str, dataset: str) -> list[str]:
        """A per-data-set plot (``open_set_by_subset``, ``residual_spectra``)."""
        return self.take(f"{prefix}{dataset_suffix(dataset)}.png")

    def for_method(self, prefix: str, method: str, dataset: str) -> list[str]:
        """A method's plot on one data set; two spellings, as the plotters have two."""
        return self.take(
            f"{prefix}_{file_slug(method)}{dataset_suffix(dataset)}.png",
            "_".join(map(file_slug, (prefix, method, dataset))) + ".png",
        )

    def unplaced(self) -> list[str]:
        return sorted(set(self.by_name) - self.placed)
