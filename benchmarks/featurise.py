"""A method's features of the splits a run's cells need: cached, derived, or computed.

Features are cached per (method key, split data hash, split, crop transform), so a method's
features of a data set are computed once whatever protocols and runs read them; a split made
of others already featurised (``unseen_all``, the three unseen groups) is gathered from them.
"""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from benchmarks.feature_cache import FeatureCache, FeatureEntry
from benchmarks.plan import Cell, RunSummary, SplitSource, crop_views, crop_windows
from benchmarks.protocols.base import FIT_SPLITS
from core.images import as_float_images
from core.quiet_trainer import quiet_trainer
from datamodules.perturbations import Perturbation
from lightning_modules.base import AttributionMethod, Features


def features_from_parts(split: Any, done: list[tuple[Any, torch.Tensor]]) -> torch.Tensor | None:
    """The features of ``split`` gathered from splits already featurised by the same method,
    where those cover every one of its images (``unseen_all`` is the three unseen subsets:
    without this, open set would featurise every unseen image twice). Rows are matched by
    ``source_rows``, the images' positions in their data set; None if any image is missing."""
    rows = getattr(split, "source_rows", None)
    parts = [(s.source_rows, v) for s, v in done if getattr(s, "source_rows", None) is not None]
    if rows is None or not parts:
        return None
    known_rows = torch.cat([r for r, _ in parts])
    order = known_rows.argsort()
    sorted_rows = known_rows[order]
    at = torch.searchsorted(sorted_rows, rows).clamp(max=len(sorted_rows) - 1)
    if not torch.equal(sorted_rows[at], rows):
        return None
    return torch.cat([v for _, v in parts])[order[at]]


def feature_transform(method: AttributionMethod, split: Any, crops: int) -> str:
    """What the cached features of ``split`` were computed on: ``none`` (whole images) or the
    test-time windows (``crops9@32``: 9 windows of 32 px)."""
    windows = crop_windows(split.images.shape[-1], method.input_size, crops)
    return f"crops{len(windows) ** 2}@{method.input_size}" if windows else "none"


class FloatBatches(Dataset):
    """Consecutive batches of a split's images, each turned into floats on its own: the split
    stays in its stored dtype (uint8: a quarter of float32's memory) and no float copy of every
    image is ever made - at thousands of generators that copy was the largest allocation."""

    def __init__(self, images: torch.Tensor, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.images, self.batch_size = images, int(batch_size)

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index: int) -> torch.Tensor:
        start = index * self.batch_size
        return as_float_images(self.images[start : start + self.batch_size].contiguous())


def extract(method: AttributionMethod, split: Any, batch_size: int, crops: int = 1) -> torch.Tensor:
    """The method's features of the split's images; with test-time crops, the mean of its
    features of every window (each window one pass through ``Trainer.predict``)."""
    images = split.images
    method.to(memory_format=torch.channels_last)  # see AttributionMethod.predict_step
    windows = crop_windows(images.shape[-1], method.input_size, crops)
    views = crop_views(images, method.input_size, windows)
    total = None
    for view in views:
        rows = RowsInto(len(view))
        loader = DataLoader(FloatBatches(view, batch_size), batch_size=None)
        quiet_trainer(callbacks=[rows]).predict(method, loader, return_predictions=False)
        if rows.filled != len(view):
            name = type(method).__name__
            raise RuntimeError(f"{name} gave {rows.filled} feature rows for {len(view)} images")
        total = rows.out if total is None else total.add_(rows.out)
    return total.div_(len(views)) if len(views) > 1 else total


class RowsInto(L.Callback):
    """Writes each predicted batch (of one dataloader) into one tensor of all the rows,
    allocated at the first batch: the features exist once, not as a list of batches plus
    their concatenation."""

    def __init__(self, rows: int) -> None:
        self.rows, self.filled = rows, 0
        self.out = torch.zeros(0)

    def on_predict_batch_end(self, trainer: L.Trainer, module: Any, outputs: Any, *_: Any) -> None:
        values = outputs.detach().cpu()
        if self.filled == 0:
            with torch.inference_mode(False):  # an ordinary tensor: callers add to it in place
                self.out = torch.empty((self.rows, *values.shape[1:]), dtype=values.dtype)
        self.out[self.filled : self.filled + len(values)] = values
        self.filled += len(values)


def cached_extract(
    method: AttributionMethod,
    split: Any,
    split_name: str,
    cache: FeatureCache,
    batch_size: int,
    summary: RunSummary | None = None,
    crops: int = 1,
    parts: list[tuple[Any, torch.Tensor]] = (),  # type: ignore[assignment]
) -> torch.Tensor:
    """The method's features of one split: from the cache, gathered from ``parts`` (clean
    splits already featurised), or computed and cached - the one path every caller takes."""
    entry = FeatureEntry(
        method.method_key(), split.data_hash, split_name, feature_transform(method, split, crops)
    )
    summary = summary if summary is not None else RunSummary()
    cached = cache.load(entry, rows=len(split))
    if cached is not None:
        summary.cache_hits += 1
        return cached
    derived = features_from_parts(split, list(parts)) if parts else None
    if derived is not None:
        return derived
    start = time.perf_counter()
    values = extract(method, split, batch_size, crops)
    summary.feature_seconds += time.perf_counter() - start
    summary.images_featurised += len(split)
    cache.save(entry, values)
    return values


def needed_splits(cells: list[Cell]) -> set[tuple[str, Perturbation | None]]:
    """(split, perturbation) of every feature set the cells read, the fitting splits included."""
    return (
        {(name, None) for name in FIT_SPLITS}
        | {
            (name, c.variant.split_variant(name))
            for c in cells
            for name in c.variant.protocol.feature_splits()
        }
        | {(name, None) for c in cells for name in c.variant.protocol.clean_reference_splits()}
        | {variant for c in cells for variant in c.variant.protocol.fit_variants()}
    )


def featurise(
    method: AttributionMethod,
    cells: list[Cell],
    source: SplitSource,
    cache: FeatureCache,
    batch_size: int,
    summary: RunSummary,
    crops: int = 1,
) -> dict[tuple[str, Perturbation | None], Features]:
    """Features of every split the cells need: from the cache, from splits already featurised
    (``unseen_all`` = its parts), or by running the method - smallest split first."""
    features: dict[tuple[str, Perturbation | None], Features] = {}
    clean: list[tuple[Any, torch.Tensor]] = []
    needed = needed_splits(cells)
    for split_name, level in sorted(needed, key=lambda item: (len(source.get(*item)), item[0], str(item[1]))):
        split = source.get(split_name, level)
        parts = [] if level else clean  # a perturbed split is never its clean parts
        values = cached_extract(method, split, split_name, cache, batch_size, summary, crops, parts)
        if level is None:
            clean.append((split, values))
        features[(split_name, level)] = Features(
            split_name, values, split.labels, split.generator_ids, getattr(split, "counterparts", None)
        )
    return features
