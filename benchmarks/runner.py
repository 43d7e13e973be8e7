"""The benchmark runner: every (method x protocol x seed) cell on one data set, into the store.

Everything is checked before any work starts - names, method/protocol compatibility, seeds,
that the store can be written, that every split exists and is non-empty, and that the
splits do not leak into each other (:mod:`benchmarks.split_integrity`). The data hash covers
every split; every figure of a cell is written in one transaction. A cell already in the results store (same
run key: method, protocol, data set, split, seed, config hash) is skipped, so a killed run
resumes where it stopped. Features are cached per (method key, data hash, split).

Model selection never sees test images or unseen generators: the extractor and the head
are fitted on ``known_train`` and selected on ``known_val`` only.

Robustness track: each entry of ``perturbations`` (``jpeg:75``, ``blur:1``; ``none`` = clean)
turns every protocol into a variant (``closed_set@jpeg:75``) evaluated on perturbed test
splits, with the method fitted on clean images (see ``datamodules.perturbations``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.data_records import record_data
from benchmarks.feature_cache import FeatureCache, FeatureEntry
from benchmarks.protocols import PROTOCOLS
from benchmarks.protocols.base import Protocol, clean_key
from benchmarks.provenance import run_record
from benchmarks.split_integrity import (
    KNOWN_SPLITS,
    REAL_SPLITS,
    SEMANTIC_SHIFT,
    UNSEEN_GROUPS,
    check_split_integrity,
    data_set_hash,
)
from core.errors import AbsentSplitError, ModelprintError
from core.hashing import config_hash
from core.images import as_float_images
from core.paths import config_file
from core.quiet_trainer import quiet_trainer
from core.seeding import seed_all
from core.tracking import log_evaluation, wandb_logger
from core.yaml_config import check_typed
from datamodules import DATASETS, TRAINING_DATASETS
from datamodules.perturbations import Perturbation, PerturbationError, parse_perturbation, perturbed_split
from datamodules.zoo.datamodule import UnknownSplitError
from leaderboards.claims import CellClaims
from leaderboards.store import ResultsStore, RunKey
from lightning_modules import METHODS
from lightning_modules.base import AttributionMethod, Features

METHOD_CONFIG_DIR = config_file("methods")
FIT_SPLITS = ("known_train", "known_val")
#: the real images detection's probe is fitted and thresholded on
PROBE_FIT_SPLITS = ("real_train", "real_val")
#: the unseen splits, which a layout may not have
OPTIONAL_SPLITS = (*UNSEEN_GROUPS, "unseen_all", *REAL_SPLITS, SEMANTIC_SHIFT)


class PlanError(ModelprintError, ValueError):
    """The benchmark configuration cannot run; raised before any work starts."""


@dataclass
class BenchmarkConfig:
    methods: list[str] | None = None
    protocols: list[str] | None = None
    dataset: str = "zoo"
    dataset_args: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    bootstrap_samples: int = 200
    protocol_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    method_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_size: int = 256
    retrain: bool = False
    #: robustness track: perturbation specs (``kind:strength``; ``none`` = clean); empty = clean only
    perturbations: list[str] = field(default_factory=list)
    #: where the known splits come from when the data set has no known generators
    reference: str = "zoo"
    reference_args: dict[str, Any] = field(default_factory=dict)
    #: accept an image in two splits (a deliberate overlap study); off, an overlap is an error
    allow_overlap: bool = False
    #: ``"i/n"``: run only the i-th of n shards of the plan (job arrays, sweep agents); a
    #: (method, seed) group - one fit - never spans two shards
    shard: str | None = None
    #: compute every cell even where the store holds it under the same key (the new run
    #: replaces the recorded one): after a change that keeps a cell's configuration, e.g. a
    #: new field in its record
    rerun: bool = False
    #: test-time crops: 1 (whole images) or a square n - see :func:`crop_windows`
    test_crops: int = 1
    #: what the runs are filed under (set by the runner: ``data_set_label``)
    dataset_label: str = ""
    #: the data set's options that change what its splits hold, defaults included (set by the
    #: runner: ``data_set_options``), recorded in every cell's config under ``dataset_args``
    dataset_options: dict[str, Any] = field(default_factory=dict)

    @property
    def recorded_dataset(self) -> str:
        return self.dataset_label or self.dataset


CLEAN = ("none", "clean")


@dataclass(frozen=True)
class Variant:
    """A protocol as evaluated under one perturbation of its test splits (None: clean)."""

    protocol: Protocol
    perturbation: Perturbation | None = None

    @property
    def name(self) -> str:
        """The protocol name the store records: ``open_set`` or ``open_set@jpeg:75``."""
        return (
            self.protocol.name
            if self.perturbation is None
            else f"{self.protocol.name}@{self.perturbation.spec}"
        )

    def split_variant(self, split_name: str) -> Perturbation | None:
        """Fitting splits stay clean (the known generators' and, for detection's probe, the real
        images' train and val); only what the protocol tests on is perturbed."""
        return None if split_name in (*FIT_SPLITS, *PROBE_FIT_SPLITS) else self.perturbation


@dataclass
class RunSummary:
    ran: int = 0
    skipped: int = 0
    wall_time_s: float = 0.0
    feature_seconds: float = 0.0
    images_featurised: int = 0
    cache_hits: int = 0
    #: cells another run on the same store computed while this one waited for them
    reused: int = 0
    #: cache entries found damaged or foreign, deleted and recomputed ("file: why")
    cache_rejected: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    #: ``method|protocol|seed`` -> the config hash its runs are keyed by, for every cell of the
    #: plan (run or skipped): what a sweep trial looks its figure up by
    cell_hashes: dict[str, str] = field(default_factory=dict)


def method_yaml(path: Path) -> dict[str, Any]:
    """A method YAML's arguments; ``base_config: other.yaml`` (beside it) is read first and
    overridden key by key - an ablation's YAML names only what it changes."""
    if not path.exists():
        return {}
    args = yaml.safe_load(path.read_text()) or {}
    base = args.pop("base_config", None)
    return {**method_yaml(path.with_name(base)), **args} if base else args


def method_args(name: str, overrides: dict[str, Any] | None = None, retrain: bool = False) -> dict[str, Any]:
    """The method's YAML (``configs/methods/<name>.yaml``) with overrides on top;
    ``retrain`` sets ``retrain: true`` for methods that take it (those shipping a checkpoint)."""
    args = {**method_yaml(METHOD_CONFIG_DIR / f"{name}.yaml"), **(overrides or {})}
    if retrain and "retrain" in inspect.signature(METHODS.entry(name).factory).parameters:
        args["retrain"] = True
    return args


def check_method_args(cfg: BenchmarkConfig, methods: list[str]) -> None:
    """Every method argument (YAML and overrides) names a parameter of its method, and every
    method given arguments is in the plan - checked before any data loads."""
    stray = sorted(set(cfg.method_args) - set(methods))
    if stray:
        raise PlanError(f"method_args for methods not in this run: {stray}; the run's methods: {methods}")
    for name in methods:
        args = method_args(name, cfg.method_args.get(name), cfg.retrain)
        source = f"method {name!r} (configs/methods/{name}.yaml and --method_args)"
        check_typed(METHODS.entry(name).factory, args, source)


def perturbations(cfg: BenchmarkConfig) -> list[Perturbation | None]:
    """The perturbation levels to run (None = clean), parsed up front: a bad spec is a PlanError."""
    if not cfg.perturbations:
        return [None]
    levels: list[Perturbation | None] = []
    for spec in cfg.perturbations:
        try:
            level = None if str(spec).strip().lower() in CLEAN else parse_perturbation(spec)
        except PerturbationError as error:
            raise PlanError(str(error)) from None
        if level not in levels:
            levels.append(level)
    return levels


def plan(cfg: BenchmarkConfig) -> tuple[list[str], list[Protocol]]:
    """Validate names and compatibility; returns the methods and protocols to run."""
    for option in ("methods", "protocols"):
        if getattr(cfg, option) == []:
            raise PlanError(f"--{option}=[] selects nothing; leave it out to run all of them")
    methods = cfg.methods if cfg.methods is not None else METHODS.names()
    protocols = (
        cfg.protocols
        if cfg.protocols is not None
        else [name for name in PROTOCOLS.names() if PROTOCOLS.entry(name).factory.by_default]
    )
    check_seeds(cfg.seeds)
    parse_shard(cfg.shard)
    crop_windows(2, 1, cfg.test_crops)  # a bad crop count fails here, before any work
    if cfg.bootstrap_samples < 0 or cfg.bootstrap_samples == 1:
        raise PlanError(
            "bootstrap_samples must be 0 (no intervals) or at least 2 (200 is usual), "
            f"got {cfg.bootstrap_samples}"
        )
    for name in methods:
        METHODS.entry(name)
    for name in protocols:
        PROTOCOLS.entry(name)
    if cfg.dataset in TRAINING_DATASETS and cfg.dataset not in DATASETS:
        raise PlanError(
            f"{cfg.dataset!r} is a training data set (methods train on it), not one split into known "
            f"and unseen generators; protocols run on: {', '.join(DATASETS.names())}"
        )
    for dataset, args, flag in (
        (cfg.dataset, cfg.dataset_args, "dataset"),
        (cfg.reference, cfg.reference_args, "reference"),
    ):
        check_typed(
            DATASETS.entry(dataset).factory,
            args,
            f"data set {dataset!r} (--{flag}_args)",
            supplied=("split",),
        )
    check_method_args(cfg, methods)
    perturbations(cfg)
    stray = sorted(set(cfg.protocol_args) - set(protocols))
    if stray:
        raise PlanError(f"protocol_args for protocols not in this run: {stray}; its protocols: {protocols}")
    built = [
        PROTOCOLS.create(name, bootstrap_samples=cfg.bootstrap_samples, **cfg.protocol_args.get(name, {}))
        for name in protocols
    ]
    if cfg.methods and cfg.protocols:  # an explicit request the method cannot serve is an error
        for name in methods:
            capabilities = METHODS.entry(name).factory.capabilities
            for protocol in built:
                if protocol.requires not in capabilities:
                    raise PlanError(
                        f"method {name!r} cannot serve protocol {protocol.name!r} "
                        f"(it serves: {', '.join(sorted(capabilities))})"
                    )
    return methods, built


def available_methods(cfg: BenchmarkConfig, methods: list[str]) -> tuple[list[str], list[str]]:
    """A run of every method leaves out those that cannot give real figures here (CLIP without
    its weights), each with a line saying why; methods named explicitly are all kept - building
    one then fails with its reason."""
    if cfg.methods is not None:
        return methods, []
    kept, notes = [], []
    for name in methods:
        args = method_args(name, cfg.method_args.get(name), cfg.retrain)
        reason = METHODS.entry(name).factory.unavailable(args)
        if reason is None:
            kept.append(name)
        else:
            notes.append(f"left out {name}: {reason.removeprefix(f'{name}: ')}")
    return kept, notes


def parse_shard(shard: str | None) -> tuple[int, int] | None:
    """``"i/n"`` -> (i, n) with 0 <= i < n; None for the whole plan."""
    if shard is None:
        return None
    index, _, count = str(shard).partition("/")
    if not (index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise PlanError(f"--shard={shard!r}: expected i/n with 0 <= i < n, e.g. --shard=0/4")
    return int(index), int(count)


def in_shard(method: str, seed: int, shard: tuple[int, int] | None) -> bool:
    """Groups are dealt to shards by a stable hash of (method, seed): every shard of every
    machine agrees, whatever order the plan lists them in."""
    if shard is None:
        return True
    digest = hashlib.blake2b(f"{method}|{seed}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shard[1] == shard[0]


def check_seeds(seeds: list[int]) -> None:
    """Seeds are given, distinct (a repeated seed would run its cells twice) and in the range
    every library seeds from (numpy and scikit-learn take 0 .. 2**32 - 1)."""
    if not seeds:
        raise PlanError("no seeds given")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise PlanError(f"seed(s) {repeated} given twice in --seeds={seeds}")
    bad = [s for s in seeds if not 0 <= s < 2**32]
    if bad:
        raise PlanError(f"seed(s) {bad} out of range: a seed is an integer in [0, 2**32)")


def data_set_options(cfg: BenchmarkConfig) -> dict[str, Any]:
    """The loader's options that change its splits' content, at their effective values (the
    zoo's ``include_real``): a cell's config names them even where the user left the default,
    so that a run under another default is not taken for this one."""
    dm = DATASETS.create(cfg.dataset, split="known_test", **cfg.dataset_args)
    options = getattr(dm, "recorded_options", None)
    return dict(options()) if options else {}


def load_named_splits(dataset: str, args: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The named splits of a data set (an absent one raises :class:`AbsentSplitError`)."""
    splits = {}
    for name in names:
        dm = DATASETS.create(dataset, split=name, **args)
        dm.setup()
        if len(dm.split) == 0:
            raise PlanError(f"split {name!r} of data set {dataset!r} is empty")
        splits[name] = dm.split
    return splits


def data_set_label(cfg: BenchmarkConfig) -> str:
    """What the run is filed under: the loader's name, and the data set's own name where the
    loader gives one (``genimage:GenImage``), so different data sets never hide each other."""
    dm = DATASETS.create(cfg.dataset, split="known_test", **cfg.dataset_args)
    name = getattr(dm, "data_set_name", "")
    return f"{cfg.dataset}:{name}" if name else cfg.dataset


def load_splits(cfg: BenchmarkConfig) -> tuple[dict[str, Any], tuple[str, ...], str]:
    """Every split of the data set, loaded up front so that a missing or empty one fails before
    work, and so that the data hash covers all of them whatever the plan reads. An unseen group
    the layout does not have is absent (returned by name), not an error. A data set with no
    known generators (a folder of unseen ones) takes its known splits from the reference data
    set: returns the splits, the absent ones, and where the known splits came from."""
    splits, absent = {}, []
    for name in OPTIONAL_SPLITS:
        try:
            splits.update(load_named_splits(cfg.dataset, cfg.dataset_args, [name]))
        except AbsentSplitError:
            absent.append(name)
        except UnknownSplitError:  # a loader with no real images (no detection there) or no content
            if name not in (*REAL_SPLITS, SEMANTIC_SHIFT):
                raise
            absent.append(name)
    try:
        splits.update(load_named_splits(cfg.dataset, cfg.dataset_args, KNOWN_SPLITS))
        known_from = cfg.dataset
    except AbsentSplitError:
        if cfg.reference == cfg.dataset and cfg.reference_args == cfg.dataset_args:
            raise
        splits.update(load_named_splits(cfg.reference, cfg.reference_args, KNOWN_SPLITS))
        known_from = f"{cfg.reference} (reference)"
    return splits, tuple(absent), known_from


def present_protocols(protocols: list[Protocol], absent: tuple[str, ...], explicit: bool) -> list[Protocol]:
    """The protocols restricted to the splits the data set has (open set on the unseen groups it
    has). One that cannot run at all is an error when asked for by name, else left out."""
    kept = []
    for protocol in protocols:
        restricted = protocol.restricted(set(absent))
        if restricted is not None:
            kept.append(restricted)
        elif explicit:
            raise PlanError(
                f"protocol {protocol.name!r} needs {', '.join(protocol.feature_splits())}; "
                f"this data set has no {', '.join(absent)}"
            )
    if not kept:
        raise PlanError(f"no protocol can run: this data set has no {', '.join(absent)}")
    return kept


def own_data_protocols(protocols: list[Protocol], known_from: str, explicit: bool) -> list[Protocol]:
    """Where the known splits come from the reference, a protocol that reports only on known
    splits (closed set) would file the reference's figure under this data set's name: left out,
    or an error when asked for by name."""
    kept = [p for p in protocols if not set(p.result_splits()) <= set(KNOWN_SPLITS)]
    dropped = [p.name for p in protocols if p not in kept]
    if dropped and explicit:
        raise PlanError(
            f"{', '.join(dropped)} reports on known generators only, and this data set has none (its known "
            f"splits come from {known_from}); run it on that data set instead"
        )
    if not kept:
        raise PlanError("no protocol can run on a data set with no known generators")
    return kept


def skipped_images(splits: dict[str, Any]) -> dict[str, Any]:
    """Files a data set skipped (where the user asked to skip bad files), for the run's record."""
    skipped = {name: list(split.skipped) for name, split in splits.items() if getattr(split, "skipped", ())}
    if not skipped:
        return {}
    return {"skipped_images": {n: len(v) for n, v in skipped.items()}, "skipped_files": skipped}


def features_from_parts(split: Any, done: list[tuple[Any, torch.Tensor]]) -> torch.Tensor | None:
    """The features of ``split`` gathered from splits already featurised by the same method,
    where those cover every one of its images (``unseen_all`` is the three unseen subsets:
    without this, open set featurised 7,800 zoo images twice). Rows are matched by
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


def crop_windows(image_size: int, crop_size: int | None, crops: int) -> list[int]:
    """Top-left offsets (each axis) of the test-time windows: ``crops`` = g x g windows of
    ``crop_size`` on an evenly spaced grid over the image, corners included; none (whole
    images) with ``crops`` 1, a method of no fixed input size, or images no larger than it."""
    grid = math.isqrt(crops)
    if crops < 1 or grid * grid != crops:
        raise PlanError(f"test_crops must be 1 or a square (4, 9, 16, ...), got {crops}")
    if crops == 1 or crop_size is None or image_size <= crop_size:
        return []
    span = image_size - crop_size
    return sorted({round(i * span / (grid - 1)) for i in range(grid)})


def feature_transform(method: AttributionMethod, split: Any, crops: int) -> str:
    """What the cached features of ``split`` were computed on: ``none`` (whole images) or the
    test-time windows (``crops9@32``: 9 windows of 32 px)."""
    windows = crop_windows(split.images.shape[-1], method.input_size, crops)
    return f"crops{len(windows) ** 2}@{method.input_size}" if windows else "none"


def extract(method: AttributionMethod, split: Any, batch_size: int, crops: int = 1) -> torch.Tensor:
    """The method's features of the split's images; with test-time crops, the mean of its
    features of every window (each window one pass through ``Trainer.predict``)."""
    images = as_float_images(split.images)
    method.to(memory_format=torch.channels_last)  # see AttributionMethod.predict_step
    windows = crop_windows(images.shape[-1], method.input_size, crops)
    views = [
        images[..., y : y + method.input_size, x : x + method.input_size] for y in windows for x in windows
    ]
    total = None
    for view in views or [images]:
        loader = DataLoader(TensorDataset(view.contiguous()), batch_size=batch_size)
        values = torch.cat(quiet_trainer().predict(method, loader)).cpu()
        total = values if total is None else total + values
    return total / max(len(views), 1)


def cell_config(cfg: BenchmarkConfig, method: str, protocol: Protocol | Variant) -> dict[str, Any]:
    """The configuration recorded with (and hashed into the key of) one cell's runs; a clean
    cell's config has no perturbation key, so clean runs keep the keys they always had."""
    variant = protocol if isinstance(protocol, Variant) else Variant(protocol)
    config = {
        "method": method,
        "method_args": method_args(method, cfg.method_args.get(method), cfg.retrain),
        "protocol": variant.name,
        "protocol_args": variant.protocol.config(),
        "dataset": cfg.recorded_dataset,
        "dataset_args": {k: str(v) for k, v in {**cfg.dataset_options, **cfg.dataset_args}.items()},
    }
    if variant.perturbation is not None:
        config["perturbation"] = variant.perturbation.spec
    if cfg.allow_overlap:
        config["allow_overlap"] = True
    if cfg.test_crops != 1:  # whole-image cells keep the keys they always had
        config["test_crops"] = cfg.test_crops
    args = config["method_args"]
    files = METHODS.entry(method).factory.input_files(args)
    if files:  # a cell is stale when a file it reads changes (a new shipped checkpoint)
        config["input_files"] = {str(name): digest for name, digest in files.items()}
    return config


@dataclass(frozen=True)
class Cell:
    """One unit of work: a method, a protocol (clean or perturbed) and a seed."""

    method: str
    variant: Variant
    seed: int


class SplitSource:
    """The loaded splits, and their perturbed copies made once and shared by every method."""

    def __init__(self, splits: dict[str, Any], absent: tuple[str, ...] = (), known_from: str = "") -> None:
        self.splits, self.absent, self.known_from = splits, absent, known_from
        self.perturbed: dict[tuple[str, Perturbation], Any] = {}
        self.data_hash = data_set_hash(splits)

    def get(self, name: str, level: Perturbation | None) -> Any:
        if level is None:
            return self.splits[name]
        if (name, level) not in self.perturbed:
            self.perturbed[(name, level)] = perturbed_split(self.splits[name], level)
        return self.perturbed[(name, level)]


def plan_cells(cfg: BenchmarkConfig, methods: list[str], variants: list[Variant]) -> list[Cell]:
    """Every (method, seed, protocol variant) the method can serve, in run order."""
    return [
        Cell(m, v, s)
        for m in methods
        for s in cfg.seeds
        for v in variants
        if v.protocol.requires in METHODS.entry(m).factory.capabilities
    ]


def cell_hash(cell: Cell, cfg: BenchmarkConfig) -> str:
    """The hash of the cell's recorded configuration (it digests the method's input files, so a
    run computes it once per cell)."""
    return config_hash(cell_config(cfg, cell.method, cell.variant))


def is_recorded(
    cell: Cell, cfg: BenchmarkConfig, store: ResultsStore, data_hash: str, chash: str | None = None
) -> bool:
    """Whether every split the cell writes is in the store under its current key."""
    chash = chash or cell_hash(cell, cfg)
    return all(
        store.has_run(
            RunKey(cell.method, cell.variant.name, cfg.recorded_dataset, split, cell.seed, chash, data_hash)
        )
        for split in cell.variant.protocol.result_splits()
    )


def fit_method(
    cfg: BenchmarkConfig, name: str, seed: int, source: SplitSource
) -> tuple[AttributionMethod, dict]:
    """Build the method from its YAML and overrides and fit its extractor on the known splits."""
    seed_all(seed)
    method: AttributionMethod = METHODS.create(
        name, **method_args(name, cfg.method_args.get(name), cfg.retrain)
    )
    return method, method.fit_extractor(source.splits["known_train"], source.splits["known_val"], seed)


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
    needed = (
        {(name, None) for name in FIT_SPLITS}
        | {
            (name, c.variant.split_variant(name))
            for c in cells
            for name in c.variant.protocol.feature_splits()
        }
        | {(name, None) for c in cells for name in c.variant.protocol.clean_reference_splits()}
    )
    features: dict[tuple[str, Perturbation | None], Features] = {}
    clean: list[tuple[Any, torch.Tensor]] = []
    for split_name, level in sorted(needed, key=lambda item: (len(source.get(*item)), item[0], str(item[1]))):
        split = source.get(split_name, level)
        entry = FeatureEntry(
            method.method_key(), split.data_hash, split_name, feature_transform(method, split, crops)
        )
        cached = cache.load(entry, rows=len(split))
        derived = None if cached is not None or level else features_from_parts(split, clean)
        if cached is not None:
            values = cached
            summary.cache_hits += 1
        elif derived is not None:
            values = derived
        else:
            start = time.perf_counter()
            values = extract(method, split, batch_size, crops)
            summary.feature_seconds += time.perf_counter() - start
            summary.images_featurised += len(split)
            cache.save(entry, values)
        if level is None:
            clean.append((split, values))
        features[(split_name, level)] = Features(
            split_name, values, split.labels, split.generator_ids, getattr(split, "counterparts", None)
        )
    return features


def cell_records(
    cfg: BenchmarkConfig,
    cell: Cell,
    results: list[Any],
    source: SplitSource,
    context: dict[str, Any],
    wall_time_s: float,
) -> list[tuple[Any, list]]:
    """The store records of one evaluated cell, each with its figures and provenance."""
    variant, out = cell.variant, []
    cell_splits = [r.split for r in results]
    for result in results:
        details = {**context, **result.details, "cell_splits": cell_splits}
        absent = variant.protocol.absent_splits
        if absent:
            details["absent_splits"] = list(absent)
        if variant.perturbation is not None:
            details["perturbation"] = {
                "kind": variant.perturbation.kind.name,
                "strength": variant.perturbation.strength,
                "clean_protocol": variant.protocol.name,
                "data_hash": source.get(result.split, variant.perturbation).data_hash,
            }
        record = run_record(
            method=cell.method,
            protocol=variant.name,
            dataset=cfg.recorded_dataset,
            split=result.split,
            seed=cell.seed,
            config=cell_config(cfg, cell.method, variant),
            data_hash=source.data_hash,
            wall_time_s=wall_time_s,
            details=details,
        )
        out.append((record, list(result.figures)))
    return out


def compute_cells(run: RunContext, method_name: str, seed: int, todo: list[Cell]) -> None:
    """Fit one method for one seed, featurise what its cells need, evaluate and record each cell."""
    cfg, source, summary, progress = run.cfg, run.source, run.summary, run.progress
    progress.update(run.task, description=f"{method_name} seed {seed}: fitting")
    fit_start = time.perf_counter()
    method, extractor_info = fit_method(cfg, method_name, seed, source)
    features = featurise(method, todo, source, run.cache, cfg.batch_size, summary, cfg.test_crops)
    head_info = method.fit_head(features[("known_train", None)], features[("known_val", None)], seed)
    fit_seconds = time.perf_counter() - fit_start
    context = {
        **skipped_images(source.splits),
        "known_splits_from": source.known_from,
        "weights": method.weights_note or "n/a",
        "extractor": extractor_info,
        "head": head_info,
    }
    tracked = wandb_logger(
        f"{method_name}-seed{seed}",
        {c.variant.name: cell_config(cfg, method_name, c.variant) for c in todo},
        group=cfg.recorded_dataset,
    )
    tracked_figures: dict[str, float] = {}
    tracked_runs: list[str] = []
    for cell in todo:
        progress.update(run.task, description=f"{method_name} seed {seed}: {cell.variant.name}")
        eval_start = time.perf_counter()
        protocol = cell.variant.protocol
        cell_features = {
            name: features[(name, cell.variant.split_variant(name))]
            for name in (*FIT_SPLITS, *protocol.feature_splits())
        } | {clean_key(name): features[(name, None)] for name in protocol.clean_reference_splits()}
        results = cell.variant.protocol.evaluate(method, cell_features, seed)
        wall = fit_seconds + time.perf_counter() - eval_start
        records = cell_records(cfg, cell, results, source, context, wall)
        run_ids = run.store.write_runs(records)  # the whole cell, or nothing of it
        summary.run_ids += run_ids
        tracked_runs += run_ids
        for record, figures in records:
            tracked_figures.update(
                {f"{cell.variant.name}/{record.split}/{f.metric}": f.value for f in figures}
            )
        summary.ran += 1
        progress.advance(run.task)
    log_evaluation(tracked, tracked_figures, tracked_runs)


@dataclass
class RunContext:
    """What every (method, seed) group of one run shares."""

    cfg: BenchmarkConfig
    source: SplitSource
    store: ResultsStore
    cache: FeatureCache
    summary: RunSummary
    progress: Progress
    task: Any


def cell_id(cell: Cell, cfg: BenchmarkConfig, data_hash: str, chash: str | None = None) -> str:
    """The identity two runs of one plan agree on: what a claim names."""
    chash = chash or cell_hash(cell, cfg)
    return "|".join((cell.method, cell.variant.name, cfg.recorded_dataset, str(cell.seed), chash, data_hash))


def run_benchmark(
    cfg: BenchmarkConfig,
    store: ResultsStore,
    cache: FeatureCache | None = None,
    console: Console | None = None,
    poll_s: float = 2.0,
) -> RunSummary:
    """Plan the cells, then per (method, seed): fit, featurise, evaluate and record each cell
    not yet in the store (so a killed run resumes where it stopped). A cell another run on the
    same store has claimed is left to it; once this run has done its own, it waits for those
    figures (``poll_s``) and reuses them - or computes the cell if that run died."""
    console, cache = console or Console(), cache or FeatureCache()
    methods, protocols = plan(cfg)
    methods, notes = available_methods(cfg, methods)
    for note in notes:
        console.print(note, markup=False, highlight=False, soft_wrap=True)  # one line
    store.check_writable()  # a store that cannot take the figures is refused before the work
    cfg = dataclasses.replace(cfg, dataset_label=data_set_label(cfg), dataset_options=data_set_options(cfg))
    splits, absent, known_from = load_splits(cfg)
    check_split_integrity(splits, allow_overlap=cfg.allow_overlap)
    protocols = present_protocols(protocols, absent, explicit=cfg.protocols is not None)
    if known_from != cfg.dataset:
        protocols = own_data_protocols(protocols, known_from, explicit=cfg.protocols is not None)
    for protocol in protocols:
        protocol.check_data(splits)
    variants = [Variant(p, level) for level in perturbations(cfg) for p in protocols]
    source = SplitSource(splits, absent, known_from)
    shard = parse_shard(cfg.shard)
    if shard is None or shard[0] == 0:  # the data set's own record (residual spectra), once
        record_data(
            store, splits, cfg.recorded_dataset, source.data_hash, {**cfg.dataset_options, **cfg.dataset_args}
        )
    cells = [c for c in plan_cells(cfg, methods, variants) if in_shard(c.method, c.seed, shard)]
    summary, start = RunSummary(), time.perf_counter()
    groups = dict.fromkeys((c.method, c.seed) for c in cells)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress, CellClaims(store) as claims:
        task = progress.add_task("benchmark", total=len(cells))
        run = RunContext(cfg, source, store, cache, summary, progress, task)
        hashes = {c: cell_hash(c, cfg) for c in cells}
        summary.cell_hashes = {f"{c.method}|{c.variant.name}|{c.seed}": h for c, h in hashes.items()}
        pending = {g: [c for c in cells if (c.method, c.seed) == g] for g in groups}  # not yet seen recorded
        first_pass = True
        while pending:
            if not first_pass:
                progress.update(
                    run.task, description=f"waiting for {len(pending)} group(s) another run holds"
                )
                time.sleep(poll_s)
            for (method_name, seed), group in list(pending.items()):
                todo = [
                    c
                    for c in group
                    if (cfg.rerun and first_pass)  # later passes: another run's figures are reused
                    or not is_recorded(c, cfg, store, source.data_hash, hashes[c])
                ]
                if first_pass:
                    summary.skipped += len(group) - len(todo)
                else:
                    summary.reused += len(group) - len(todo)
                progress.advance(run.task, len(group) - len(todo))
                ids = [cell_id(c, cfg, source.data_hash, hashes[c]) for c in todo]
                held = claims.claim(ids)
                mine = [c for c, i in zip(todo, ids, strict=True) if i in held]
                if mine:
                    compute_cells(run, method_name, seed, mine)
                    claims.release(held)
                others = [c for c, i in zip(todo, ids, strict=True) if i not in held]
                if others:
                    pending[(method_name, seed)] = others
                else:
                    del pending[(method_name, seed)]
            first_pass = False
    summary.wall_time_s = time.perf_counter() - start
    summary.cache_rejected = list(cache.rejected)
    return summary
