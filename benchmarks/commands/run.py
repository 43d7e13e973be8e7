"""``modelprint run``: the grid of methods x protocols x seeds on one data set, into the store."""

from __future__ import annotations

from rich.console import Console

from benchmarks.cli import command
from benchmarks.config import BenchmarkConfig
from core.paths import config_file

DEFAULT_EXPERIMENT = config_file("experiments", "default.yaml")


@command("run", config=BenchmarkConfig)
def run(cfg: BenchmarkConfig) -> int:
    """Run every (method, protocol, seed) cell not yet in the results store, with provenance.

    The default experiment is ``configs/experiments/default.yaml`` (pass it, or your
    own, with ``--config``); every flag is a field of :class:`benchmarks.plan.BenchmarkConfig`.
    """
    from benchmarks.runner import run_benchmark
    from leaderboards import open_store

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
