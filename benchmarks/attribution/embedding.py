"""A registered method, fitted as the benchmark fits it, turning image files into embeddings.

Why here and not in the runner: a gallery must embed references and queries *exactly* as the
zero-shot protocol does - the same fitted extractor (``fit_extractor`` on the reference data
set's known splits), the same ``method.embed`` (for a method whose embedding reads known-train
statistics, the head fitted on them, from the feature cache the benchmark shares) - but from
files of any size, batched through ``Trainer.predict``, where a bad file must not stop the
others. Files are decoded by the data loaders' own reader (:func:`read_image`), so a gallery
sees an image exactly as an ``imagefolder`` run would.
"""

from __future__ import annotations

import gc
import glob
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from benchmarks.feature_cache import FeatureCache
from benchmarks.featurise import cached_extract
from benchmarks.plan import crop_views, crop_windows
from core.errors import ConfigError, DataError
from core.images import as_float_images
from core.quiet_trainer import quiet_trainer
from core.seeding import seed_all
from datamodules import DATASETS
from datamodules.public.folders import IMAGE_SUFFIXES
from datamodules.public.images import SIZE_POLICIES, BadImageError, read_image
from lightning_modules import METHODS
from lightning_modules.base import AttributionMethod, Features
from lightning_modules.method_config import build_method, check_method_args


class LazySplit:
    """A known split of the reference data set, decoded only when the method reads it.

    The flagship and the noise residual never look at the known generators' images (their
    ``fit_extractor`` ignores them), and decoding the zoo takes most of a gallery's start-up;
    a method that trains on them, or keys its weights by their hash, reads them here.
    """

    def __init__(self, dataset: str, args: dict[str, Any], split: str) -> None:
        self._where = (dataset, args, split)
        self._split: Any = None

    def load(self) -> Any:
        if self._split is None:
            dataset, args, split = self._where
            module = DATASETS.create(dataset, split=split, **args)
            module.setup()
            self._split = module.split
        return self._split

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.load(), name)

    def __len__(self) -> int:
        return len(self.load())


def embedding_reads_head(method: AttributionMethod) -> bool:
    """Whether ``method.embed`` needs the head fitted on known-train features (the base class
    standardises with its statistics; the flagship's raw embedding and the noise residual do
    not): tried on a dummy batch, since only the method knows."""
    try:
        method.embed(torch.zeros(2, 8))
    except RuntimeError:
        return True
    return False


@dataclass(frozen=True)
class MethodSpec:
    """What makes a gallery's embedding: the method, its arguments, the seed it was fitted with,
    and the reference data set whose known splits it was fitted on (as the benchmark does)."""

    name: str
    args: dict[str, Any]
    seed: int = 0
    reference: str = "zoo"
    reference_args: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "args": self.args,
            "seed": self.seed,
            "reference": self.reference,
            "reference_args": self.reference_args or {},
        }


def fitted_method(spec: MethodSpec, batch_size: int = 64) -> AttributionMethod:
    """The registered method, built and fitted on the reference's known splits as the runner's
    ``fit_method`` does; the head too where its embedding reads it."""
    if spec.name not in METHODS.names():
        raise ConfigError(f"unknown method {spec.name!r}; valid: {', '.join(sorted(METHODS.names()))}")
    check_method_args(spec.name, spec.args)
    seed_all(spec.seed)
    method = build_method(spec.name, spec.args)
    reference_args = spec.reference_args or {}
    train = LazySplit(spec.reference, reference_args, "known_train")
    val = LazySplit(spec.reference, reference_args, "known_val")
    method.fit_extractor(train, val, spec.seed)
    if embedding_reads_head(method):
        cache = FeatureCache()
        features = {
            name: Features(
                name,
                cached_extract(method, split.load(), name, cache, batch_size),
                split.labels,
                split.generator_ids,
            )
            for name, split in (("known_train", train), ("known_val", val))
        }
        method.fit_head(features["known_train"], features["known_val"], spec.seed)
    method.eval()
    return method


@dataclass(frozen=True)
class Preprocessing:
    """How a file becomes the method's input: the data loaders' ``resolution`` and
    ``size_policy``, then the benchmark's test-time windows (``crops`` of the method's input
    size, features averaged) - stored in the gallery so queries are read as references were."""

    resolution: int = 32
    size_policy: str = "center_crop"
    crops: int = 1

    def __post_init__(self) -> None:
        if self.size_policy not in SIZE_POLICIES:
            raise ConfigError(f"unknown size_policy {self.size_policy!r}; valid: {SIZE_POLICIES}")
        if self.resolution < 1:
            raise ConfigError(f"resolution must be at least 1, got {self.resolution}")
        crop_windows(self.resolution, None, self.crops)  # a bad crops count fails here, once


class ImageFiles(Dataset):
    """Files decoded by the data loaders' reader; a bad file is an item carrying its error, so
    one corrupt image is reported and the batch goes on."""

    def __init__(self, paths: Sequence[str], preprocessing: Preprocessing) -> None:
        self.paths, self.preprocessing = list(paths), preprocessing

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str | None]:
        p = self.preprocessing
        try:
            pixels = read_image(self.paths[index], p.resolution, p.size_policy)
        except BadImageError as error:
            return index, None, str(error)
        return index, torch.from_numpy(pixels), None


def collate_files(
    items: list[tuple[int, torch.Tensor | None, str | None]],
) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, str]]]:
    """(good images in [-1, 1], their indices, [(index, error)] of the bad ones)."""
    good = [(i, image) for i, image, _ in items if image is not None]
    bad = [(i, error) for i, _, error in items if error is not None]
    images = as_float_images(torch.stack([image for _, image in good])) if good else torch.zeros(0, 3, 1, 1)
    return images, torch.tensor([i for i, _ in good], dtype=torch.long), bad


class Embedder(L.LightningModule):
    """The fitted method's features of a batch of files (the mean over test-time windows), so
    ``Trainer.predict`` places and batches it as it does the benchmark's featurisation."""

    def __init__(self, method: AttributionMethod, preprocessing: Preprocessing) -> None:
        super().__init__()
        self.method = method
        self.windows = crop_windows(preprocessing.resolution, method.input_size, preprocessing.crops)

    def predict_step(self, batch: Any, batch_idx: int = 0) -> torch.Tensor:
        images = batch[0]
        if len(images) == 0:  # every file of the batch was bad
            return torch.zeros(0)
        views = crop_views(images, self.method.input_size, self.windows)
        total = None
        for view in views:
            values = self.method.predict_step(view.contiguous(), batch_idx)
            total = values if total is None else total + values
        return total / len(views)


#: called per batch with (indices of good files, their embeddings, [(index, error)] of bad ones)
BatchSink = Callable[[torch.Tensor, torch.Tensor, list[tuple[int, str]]], None]


class _StreamBatches(L.Callback):
    """Hands every predicted batch to the sink as it is done (streaming output for large
    folders, memory bounded by one batch), embedding its features on the CPU."""

    def __init__(self, method: AttributionMethod, sink: BatchSink) -> None:
        self.method, self.sink = method, sink

    def on_predict_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int, *_: Any
    ) -> None:
        _, indices, bad = batch
        embeddings = self.method.embed(outputs.cpu().float()) if len(indices) else torch.zeros(0)
        self.sink(indices.cpu(), embeddings, bad)


def decoding_workers(requested: int | None, files: int, batch_size: int) -> int:
    """``requested``, or by default one decoding process where it pays: decoding a 32-px PNG
    costs about a quarter of what ``noise_residual`` spends on it, so in the main process it
    adds that to every batch, in a worker it overlaps the method where a core is free for it
    (one torch thread: 76% of the benchmark's featurisation rate without a worker, 94% with
    one; both cores computing: 65% and 63%), and starting a worker costs more than a few
    batches of decoding."""
    if requested is not None:
        if requested < 0:
            raise ConfigError(f"num_workers must be at least 0, got {requested}")
        return requested
    return 1 if files >= 4 * batch_size and (os.cpu_count() or 1) > 1 else 0


def embed_files(
    method: AttributionMethod,
    paths: Sequence[str],
    preprocessing: Preprocessing,
    sink: BatchSink,
    batch_size: int = 64,
    num_workers: int | None = None,
    progress: bool = False,
) -> None:
    """Embed ``paths`` batch by batch through ``Trainer.predict``, each batch to ``sink``."""
    if not paths:
        return
    loader = DataLoader(
        ImageFiles(paths, preprocessing),
        batch_size=batch_size,
        num_workers=decoding_workers(num_workers, len(paths), batch_size),
        collate_fn=collate_files,
    )
    method.to(memory_format=torch.channels_last)  # see AttributionMethod.predict_step
    trainer = quiet_trainer(enable_progress_bar=progress, callbacks=[_StreamBatches(method, sink)])
    # The loaded method, Lightning and torch are long-lived objects: frozen, the cyclic
    # collections that each batch's answers trigger skip them (they walked them all, a tenth of
    # noise_residual's attribution time; python -m benchmarks.speed.attribute).
    gc.freeze()
    try:
        trainer.predict(Embedder(method, preprocessing), loader, return_predictions=False)
    finally:
        gc.unfreeze()


def expand_paths(patterns: Iterable[str], stdin: Iterable[str] | None = None) -> tuple[list[str], list[str]]:
    """Files named by ``patterns`` - files, folders (their images, recursively, sorted) and globs;
    ``-`` reads one path a line from ``stdin`` - and the patterns that matched nothing."""
    files: list[str] = []
    unmatched: list[str] = []
    for pattern in patterns:
        if pattern == "-":
            lines = stdin if stdin is not None else sys.stdin
            files += [line.strip() for line in lines if line.strip()]
            continue
        path = Path(pattern)
        if path.is_dir():
            found = sorted(
                str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()
            )
        elif glob.has_magic(pattern):
            found = sorted(p for p in glob.glob(pattern, recursive=True) if not os.path.isdir(p))
        else:
            found = [pattern]  # a named file: read (or reported as bad) as it is
        if not found:
            unmatched.append(pattern)
        files += found
    return files, unmatched


def reference_files(folder: str | Path) -> dict[str, list[str]]:
    """``{generator: sorted image files}`` of an image folder, by the ``imagefolder`` loader's
    own rules and errors (no such folder, no generator folders, an empty generator folder)."""
    from datamodules.public.imagefolder import ImageFolderDataModule

    layout = ImageFolderDataModule(path=folder)
    if not layout.generators:
        raise DataError(f"{folder}: no generator folders")
    return {g: [str(p) for p in layout.images(g)] for g in layout.generators}
