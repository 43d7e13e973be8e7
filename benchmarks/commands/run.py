"""``modelprint run``: the grid of methods x protocols x seeds on one data set, into the store."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from benchmarks.cli import command
from core.paths import config_file

DEFAULT_EXPERIMENT = config_file("experiments", "default.yaml")


@command("run")
def run(
    methods: list[str] | None = None,
    protocols: list[str] | None = None,
    dataset: str = "zoo",
    dataset_args: dict[str, Any] | None = None,
    seeds: list[int] | None = None,
    bootstrap_samples: int = 200,
    protocol_args: dict[str, dict[str, Any]] | None = None,
    method_args: dict[str, dict[str, Any]] | None = None,
    batch_size: int = 256,
    retrain: bool = False,
    perturbations: list[str] | None = None,
    reference: str = "zoo",
    reference_args: dict[str, Any] | None = None,
    allow_overlap: bool = False,
    shard: str | None = None,
    test_crops: int = 1,
    rerun: bool = False,
) -> int:
    """Run every (method, protocol, seed) cell not yet in the results store, with provenance.

    The default experiment is ``configs/experiments/default.yaml`` (pass it, or your
    own, with ``--config``).

    Args:
        methods: registered method names (default: all).
        protocols: registered protocol names (default: all).
        dataset: registered data set name.
        dataset_args: arguments for the data set (e.g. ``{root: path/to/artifact}``).
        seeds: seeds to run; figures on the board average over them.
        bootstrap_samples: bootstrap replicates per confidence interval (0: none).
        protocol_args: per-protocol arguments, e.g. ``{zero_shot: {gallery_per_model: 10}}``.
        method_args: per-method overrides of ``configs/methods/<name>.yaml``.
        batch_size: images per feature-extraction batch.
        retrain: methods that ship a trained checkpoint train from scratch instead of loading it.
        perturbations: robustness track - test splits perturbed, one protocol variant per level
            (``[jpeg:75,blur:1,none]``; kinds: jpeg, resize, blur, noise, crop; see
            ``configs/experiments/robustness.yaml``).
        reference: the data set whose known splits a data set without known generators (a
            folder of unseen ones) is evaluated against; recorded in each run.
        reference_args: arguments for the reference data set.
        allow_overlap: accept an image in two splits (a deliberate study; off: an error).
        shard: ``i/n`` runs the i-th of n shards of the plan (``$SLURM_ARRAY_TASK_ID/n`` in a
            job array); a (method, seed) group stays in one shard.
        test_crops: 1 (the whole image) or n = 4, 9, 16...: for a method with a fixed input size
            smaller than the images, the features of n windows on an even grid, averaged (the
            official flagship evaluation averages 9).
        rerun: compute the planned cells even where the store holds them (each new run replaces
            the recorded one of its key): after a change that leaves the cells' configuration
            as it was, e.g. a field their records lacked.
    """
    from benchmarks.runner import BenchmarkConfig, run_benchmark
    from leaderboards.store import open_store

    cfg = BenchmarkConfig(
        methods=methods,
        protocols=protocols,
        dataset=dataset,
        dataset_args=dataset_args or {},
        seeds=seeds if seeds is not None else [0],
        bootstrap_samples=bootstrap_samples,
        protocol_args=protocol_args or {},
        method_args=method_args or {},
        batch_size=batch_size,
        retrain=retrain,
        perturbations=perturbations or [],
        reference=reference,
        reference_args=reference_args or {},
        allow_overlap=allow_overlap,
        test_crops=test_crops,
        rerun=rerun,
        shard=shard,
    )
    store = open_store()
    console = Console()
    summary = run_benchmark(cfg, store, console=console)  # a user mistake: ModelprintError, one line
    console.print(
        f"ran {summary.ran} cells, skipped {summary.skipped} already in {store.path}, "
        f"{summary.wall_time_s:.1f} s (features: {summary.images_featurised} images in "
        f"{summary.feature_seconds:.1f} s, {summary.cache_hits} cache hits"
        + (f", {len(summary.cache_rejected)} bad cache entries recomputed" if summary.cache_rejected else "")
        + ")"
    )
    return 0
