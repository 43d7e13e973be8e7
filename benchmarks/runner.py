"""The benchmark runner: every (method x protocol x seed) cell on one data set, into the store.

Everything is checked before any work starts - names, method/protocol compatibility, and
that every split needed exists and is non-empty. A cell already in the results store (same
run key: method, protocol, data set, split, seed, config hash) is skipped, so a killed run
resumes where it stopped. Features are cached per (method key, data hash, split).

Model selection never sees test images or unseen generators: the extractor and the head
are fitted on ``known_train`` and selected on ``known_val`` only.

Robustness track: each entry of ``perturbations`` (``jpeg:75``, ``blur:1``; ``none`` = clean)
turns every protocol into a variant (``closed_set@jpeg:75``) evaluated on perturbed test
splits, with the method fitted on clean images (see ``datamodules.perturbations``).
"""

from __future__ import annotations

import inspect
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

from benchmarks.feature_cache import FeatureCache, feature_key
from benchmarks.protocols import PROTOCOLS
from benchmarks.protocols.base import Protocol
from benchmarks.provenance import run_record
from core.errors import ModelprintError
from core.hashing import config_hash
from core.images import as_float_images
from core.paths import config_file
from core.quiet_trainer import quiet_trainer
from core.seeding import seed_all
from core.tracking import log_evaluation, wandb_logger
from core.yaml_config import check_typed
from datamodules import DATASETS, TRAINING_DATASETS
from datamodules.perturbations import Perturbation, PerturbationError, parse_perturbation, perturbed_split
from leaderboards.store import ResultsStore, RunKey
from lightning_modules import METHODS
from lightning_modules.base import AttributionMethod, Features

METHOD_CONFIG_DIR = config_file("methods")
FIT_SPLITS = ("known_train", "known_val")


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
        """Fitting splits stay clean; only what the protocol tests on is perturbed."""
        return None if split_name in FIT_SPLITS else self.perturbation


@dataclass
class RunSummary:
    ran: int = 0
    skipped: int = 0
    wall_time_s: float = 0.0
    feature_seconds: float = 0.0
    images_featurised: int = 0
    cache_hits: int = 0
    run_ids: list[str] = field(default_factory=list)


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
    methods = cfg.methods or METHODS.names()
    protocols = cfg.protocols or PROTOCOLS.names()
    for name in methods:
        METHODS.entry(name)
    for name in protocols:
        PROTOCOLS.entry(name)
    if cfg.dataset in TRAINING_DATASETS and cfg.dataset not in DATASETS:
        raise PlanError(
            f"{cfg.dataset!r} is a training data set (methods train on it), not one split into known "
            f"and unseen generators; protocols run on: {', '.join(DATASETS.names())}"
        )
    DATASETS.entry(cfg.dataset)
    check_method_args(cfg, methods)
    perturbations(cfg)
    if not cfg.seeds:
        raise PlanError("no seeds given")
    unknown_args = set(cfg.protocol_args) - set(PROTOCOLS.names())
    if unknown_args:
        raise PlanError(
            f"protocol_args for unknown protocols {sorted(unknown_args)}; valid: {PROTOCOLS.names()}"
        )
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


def load_splits(cfg: BenchmarkConfig, names: Iterable[str]) -> dict[str, Any]:
    """Every split needed, loaded up front so that a missing or empty one fails before work."""
    splits = {}
    for name in sorted(set(names)):
        dm = DATASETS.create(cfg.dataset, split=name, **cfg.dataset_args)
        dm.setup()
        if len(dm.split) == 0:
            raise PlanError(f"split {name!r} of data set {cfg.dataset!r} is empty")
        splits[name] = dm.split
    return splits


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


def extract(method: AttributionMethod, split: Any, batch_size: int) -> torch.Tensor:
    images = as_float_images(split.images)
    loader = DataLoader(TensorDataset(images), batch_size=batch_size)
    return torch.cat(quiet_trainer().predict(method, loader)).cpu()


def cell_config(cfg: BenchmarkConfig, method: str, protocol: Protocol | Variant) -> dict[str, Any]:
    """The configuration recorded with (and hashed into the key of) one cell's runs; a clean
    cell's config has no perturbation key, so clean runs keep the keys they always had."""
    variant = protocol if isinstance(protocol, Variant) else Variant(protocol)
    config = {
        "method": method,
        "method_args": method_args(method, cfg.method_args.get(method), cfg.retrain),
        "protocol": variant.name,
        "protocol_args": variant.protocol.config(),
        "dataset": cfg.dataset,
        "dataset_args": {k: str(v) for k, v in cfg.dataset_args.items()},
    }
    if variant.perturbation is not None:
        config["perturbation"] = variant.perturbation.spec
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

    def __init__(self, splits: dict[str, Any]) -> None:
        self.splits = splits
        self.perturbed: dict[tuple[str, Perturbation], Any] = {}
        self.data_hash = splits["known_train"].data_hash

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


def is_recorded(cell: Cell, cfg: BenchmarkConfig, store: ResultsStore, data_hash: str) -> bool:
    """Whether every split the cell writes is in the store under its current key."""
    chash = config_hash(cell_config(cfg, cell.method, cell.variant))
    return all(
        store.has_run(RunKey(cell.method, cell.variant.name, cfg.dataset, split, cell.seed, chash, data_hash))
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
) -> dict[tuple[str, Perturbation | None], Features]:
    """Features of every split the cells need: from the cache, from splits already featurised
    (``unseen_all`` = its parts), or by running the method - smallest split first."""
    needed = {(name, None) for name in FIT_SPLITS} | {
        (name, c.variant.split_variant(name)) for c in cells for name in c.variant.protocol.feature_splits()
    }
    features: dict[tuple[str, Perturbation | None], Features] = {}
    clean: list[tuple[Any, torch.Tensor]] = []
    for split_name, level in sorted(needed, key=lambda item: (len(source.get(*item)), item[0], str(item[1]))):
        split = source.get(split_name, level)
        key = feature_key(method.method_key(), split.data_hash, split_name)
        cached = cache.load(key)
        derived = None if cached or level else features_from_parts(split, clean)
        if cached is not None:
            values = cached["features"]
            summary.cache_hits += 1
        elif derived is not None:
            values = derived
        else:
            start = time.perf_counter()
            values = extract(method, split, batch_size)
            summary.feature_seconds += time.perf_counter() - start
            summary.images_featurised += len(split)
            cache.save(key, {"features": values})
        if level is None:
            clean.append((split, values))
        features[(split_name, level)] = Features(split_name, values, split.labels, split.generator_ids)
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
    for result in results:
        details = {**context, **result.details}
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
            dataset=cfg.dataset,
            split=result.split,
            seed=cell.seed,
            config=cell_config(cfg, cell.method, variant),
            data_hash=source.data_hash,
            wall_time_s=wall_time_s,
            details=details,
        )
        out.append((record, list(result.figures)))
    return out


def run_benchmark(
    cfg: BenchmarkConfig,
    store: ResultsStore,
    cache: FeatureCache | None = None,
    console: Console | None = None,
) -> RunSummary:
    """Plan the cells, then per (method, seed): fit, featurise, evaluate and record each cell
    not yet in the store (so a killed run resumes where it stopped)."""
    console, cache = console or Console(), cache or FeatureCache()
    methods, protocols = plan(cfg)
    variants = [Variant(p, level) for level in perturbations(cfg) for p in protocols]
    source = SplitSource(load_splits(cfg, [*FIT_SPLITS, *(s for p in protocols for s in p.feature_splits())]))
    cells = plan_cells(cfg, methods, variants)
    summary, start = RunSummary(), time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("benchmark", total=len(cells))
        for method_name, seed in dict.fromkeys((c.method, c.seed) for c in cells):
            group = [c for c in cells if (c.method, c.seed) == (method_name, seed)]
            todo = [c for c in group if not is_recorded(c, cfg, store, source.data_hash)]
            summary.skipped += len(group) - len(todo)
            progress.advance(task, len(group) - len(todo))
            if not todo:
                continue
            progress.update(task, description=f"{method_name} seed {seed}: fitting")
            fit_start = time.perf_counter()
            method, extractor_info = fit_method(cfg, method_name, seed, source)
            features = featurise(method, todo, source, cache, cfg.batch_size, summary)
            head_info = method.fit_head(features[("known_train", None)], features[("known_val", None)], seed)
            fit_seconds = time.perf_counter() - fit_start
            context = {
                **skipped_images(source.splits),
                "weights": method.weights_note or "n/a",
                "extractor": extractor_info,
                "head": head_info,
            }
            tracked = wandb_logger(
                f"{method_name}-seed{seed}",
                {c.variant.name: cell_config(cfg, method_name, c.variant) for c in todo},
                group=cfg.dataset,
            )
            tracked_figures: dict[str, float] = {}
            tracked_runs: list[str] = []
            for cell in todo:
                progress.update(task, description=f"{method_name} seed {seed}: {cell.variant.name}")
                eval_start = time.perf_counter()
                cell_features = {
                    name: features[(name, cell.variant.split_variant(name))]
                    for name in (*FIT_SPLITS, *cell.variant.protocol.feature_splits())
                }
                results = cell.variant.protocol.evaluate(method, cell_features, seed)
                wall = fit_seconds + time.perf_counter() - eval_start
                for record, figures in cell_records(cfg, cell, results, source, context, wall):
                    run_id = store.write_run(record, figures)
                    summary.run_ids.append(run_id)
                    tracked_runs.append(run_id)
                    tracked_figures.update(
                        {f"{cell.variant.name}/{record.split}/{f.metric}": f.value for f in figures}
                    )
                summary.ran += 1
                progress.advance(task)
            log_evaluation(tracked, tracked_figures, tracked_runs)
    summary.wall_time_s = time.perf_counter() - start
    return summary
