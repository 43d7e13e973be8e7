"""The benchmark runner: every (method x protocol x seed) cell on one data set, into the store.

Everything is checked before any work starts - names, method/protocol compatibility, seeds,
that the store can be written, that every split exists and is non-empty, and that the
splits do not leak into each other (:mod:`benchmarks.split_integrity`); what a run is - its
cells, their configs and hashes - is worked out once by :mod:`benchmarks.plan`. The data hash
covers every split; every figure of a cell is written in one transaction. A cell already in
the results store (same run key: method, protocol, data set, split, seed, config hash, data
hash) is skipped, so a killed run resumes where it stopped. Features are cached per (method
key, split data hash, split, crop transform) by :mod:`benchmarks.featurise`.

Model selection never sees test images or unseen generators: the extractor and the head
are fitted on ``known_train`` and selected on ``known_val`` only.

Robustness track: each entry of ``perturbations`` (``jpeg:75``, ``blur:1``; ``none`` = clean)
turns every protocol into a variant (``closed_set@jpeg:75``) evaluated on perturbed test
splits, with the method fitted on clean images (see ``datamodules.perturbations``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks.data_records import record_data
from benchmarks.feature_cache import FeatureCache
from benchmarks.featurise import featurise
from benchmarks.plan import (
    OPTIONAL_SPLITS,
    BenchmarkConfig,
    Cell,
    PlanError,
    RunPlan,
    RunSummary,
    SplitSource,
    Variant,
    own_data_protocols,
    parse_plan,
    present_protocols,
)
from benchmarks.protocols.base import FIT_SPLITS, clean_key, variant_key
from benchmarks.provenance import run_record
from benchmarks.split_integrity import KNOWN_SPLITS, REAL_SPLITS, SEMANTIC_SHIFT, check_split_integrity
from core.errors import AbsentSplitError
from core.seeding import seed_all
from core.tracking import log_evaluation, wandb_logger
from datamodules import DATASETS
from datamodules.zoo.datamodule import UnknownSplitError
from leaderboards.claims import CellClaims
from leaderboards.store import ResultsStore
from lightning_modules import METHODS
from lightning_modules.base import AttributionMethod


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


def skipped_images(splits: dict[str, Any]) -> dict[str, Any]:
    """Files a data set skipped (where the user asked to skip bad files), for the run's record."""
    skipped = {name: list(split.skipped) for name, split in splits.items() if getattr(split, "skipped", ())}
    if not skipped:
        return {}
    return {"skipped_images": {n: len(v) for n, v in skipped.items()}, "skipped_files": skipped}


def is_recorded(cell: Cell, dataset: str, store: ResultsStore, data_hash: str) -> bool:
    """Whether every split the cell writes is in the store under its current key."""
    return all(
        store.has_run(cell.run_key(dataset, split, data_hash))
        for split in cell.variant.protocol.result_splits()
    )


def fit_method(plan: RunPlan, name: str, seed: int, source: SplitSource) -> tuple[AttributionMethod, dict]:
    """Build the method from its planned arguments and fit its extractor on the known splits."""
    seed_all(seed)
    method: AttributionMethod = METHODS.create(name, **plan.methods[name])
    return method, method.fit_extractor(source.splits["known_train"], source.splits["known_val"], seed)


def cell_records(
    plan: RunPlan,
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
            dataset=plan.dataset_label,
            split=result.split,
            seed=cell.seed,
            config=cell.config,
            data_hash=source.data_hash,
            wall_time_s=wall_time_s,
            details=details,
        )
        out.append((record, list(result.figures)))
    return out


@dataclass
class RunContext:
    """What every (method, seed) group of one run shares."""

    plan: RunPlan
    source: SplitSource
    store: ResultsStore
    cache: FeatureCache
    summary: RunSummary
    progress: Progress
    task: Any


def compute_cells(run: RunContext, method_name: str, seed: int, todo: list[Cell]) -> None:
    """Fit one method for one seed, featurise what its cells need, evaluate and record each cell."""
    plan, source, summary, progress = run.plan, run.source, run.summary, run.progress
    progress.update(run.task, description=f"{method_name} seed {seed}: fitting")
    fit_start = time.perf_counter()
    method, extractor_info = fit_method(plan, method_name, seed, source)
    cfg = plan.cfg
    features = featurise(method, todo, source, run.cache, cfg.batch_size, summary, cfg.test_crops)
    head_info = method.fit_head(features[("known_train", None)], features[("known_val", None)], seed)
    fit_seconds = time.perf_counter() - fit_start
    context = {
        **skipped_images(source.splits),
        "known_splits_from": source.known_from,
        **({"read_from": plan.reading_options} if plan.reading_options else {}),
        "weights": method.weights_note or "n/a",
        "extractor": extractor_info,
        "head": head_info,
    }
    tracked = wandb_logger(
        f"{method_name}-seed{seed}", {c.variant.name: c.config for c in todo}, group=plan.dataset_label
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
        cell_features |= {variant_key(*variant): features[variant] for variant in protocol.fit_variants()}
        results = protocol.evaluate(method, cell_features, seed)
        wall = fit_seconds + time.perf_counter() - eval_start
        records = cell_records(plan, cell, results, source, context, wall)
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


def prepare_data(plan: RunPlan) -> tuple[SplitSource, list[Variant]]:
    """Load and check every split, and the protocol variants this data set can serve."""
    cfg = plan.cfg
    splits, absent, known_from = load_splits(cfg)
    check_split_integrity(splits, allow_overlap=cfg.allow_overlap)
    known = int(splits["known_train"].labels.unique().numel())
    if known < 2:  # every method's head and probe tells known generators apart
        raise PlanError(f"the known splits hold {known} generator(s); attribution needs at least two")
    protocols = present_protocols(plan.protocols, absent, explicit=plan.explicit_protocols)
    if known_from != cfg.dataset:
        protocols = own_data_protocols(protocols, known_from, explicit=plan.explicit_protocols)
    for protocol in protocols:
        protocol.check_data(splits)
    variants = [Variant(p, level) for level in plan.levels for p in protocols]
    return SplitSource(splits, absent, known_from), variants


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
    plan = parse_plan(cfg)
    for note in plan.notes:
        console.print(note, markup=False, highlight=False, soft_wrap=True)  # one line
    store.check_writable()  # a store that cannot take the figures is refused before the work
    source, variants = prepare_data(plan)
    if plan.shard is None or plan.shard[0] == 0:  # the data set's own record (residual spectra), once
        borrowed = source.known_from != cfg.dataset  # known splits from the reference: not its own
        record_data(
            store, source.splits, plan.dataset_label, source.data_hash, plan.content_options, borrowed
        )
    cells = plan.cells(variants)
    summary, start = RunSummary(), time.perf_counter()
    summary.cell_hashes = {c.label: c.config_hash for c in cells}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress, CellClaims(store) as claims:
        task = progress.add_task("benchmark", total=len(cells))
        run = RunContext(plan, source, store, cache, summary, progress, task)
        schedule(run, claims, cells, poll_s)
    summary.wall_time_s = time.perf_counter() - start
    summary.cache_rejected = list(cache.rejected)
    return summary


def schedule(run: RunContext, claims: CellClaims, cells: list[Cell], poll_s: float) -> None:
    """Compute the cells group by group (one fit per method and seed), claiming each before the
    work; cells another run holds are waited for and reused, or computed if that run died."""
    plan, summary, progress = run.plan, run.summary, run.progress
    dataset, data_hash = plan.dataset_label, run.source.data_hash
    pending: dict[tuple[str, int], list[Cell]] = {}
    for cell in cells:
        pending.setdefault((cell.method, cell.seed), []).append(cell)
    first_pass = True
    while pending:
        if not first_pass:
            progress.update(run.task, description=f"waiting for {len(pending)} group(s) another run holds")
            time.sleep(poll_s)
        for (method_name, seed), group in list(pending.items()):
            todo = [
                c
                for c in group
                if (plan.cfg.rerun and first_pass)  # later passes: another run's figures are reused
                or not is_recorded(c, dataset, run.store, data_hash)
            ]
            if first_pass:
                summary.skipped += len(group) - len(todo)
            else:
                summary.reused += len(group) - len(todo)
            progress.advance(run.task, len(group) - len(todo))
            ids = [c.claim_id(dataset, data_hash) for c in todo]
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
