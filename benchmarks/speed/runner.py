"""Speed of the benchmark runner. Prints:

* wall time of a full run (fresh store, fresh feature cache);
* wall time to re-run every protocol from cached features (fresh store, same cache; goal:
  at least 10x faster than the first run when extraction dominates);
* feature-extraction throughput through ``Trainer.predict`` beside the raw forward rate of
  the same method's ``features`` on an in-memory tensor.

Usage: ``python -m benchmarks.speed.runner [--methods spectral] [--dataset zoo]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import yaml
from rich.console import Console

from benchmarks.feature_cache import FeatureCache
from benchmarks.plan import BenchmarkConfig
from benchmarks.runner import load_named_splits, run_benchmark
from core.images import as_float_images
from core.paths import config_file
from leaderboards.store import ResultsStore
from lightning_modules import METHODS
from lightning_modules.method_config import build_method

DEFAULT = config_file("experiments", "default.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="*", default=None)
    parser.add_argument("--dataset", default="zoo")
    args = parser.parse_args()
    experiment = yaml.safe_load(DEFAULT.read_text())
    cfg = BenchmarkConfig(
        methods=args.methods or experiment["methods"],
        protocols=experiment["protocols"],
        dataset=args.dataset,
        seeds=experiment["seeds"],
        bootstrap_samples=experiment["bootstrap_samples"],
        protocol_args=experiment["protocol_args"],
    )
    quiet = Console(quiet=True)
    with tempfile.TemporaryDirectory() as tmp:
        cache = FeatureCache(Path(tmp) / "features")
        first = run_benchmark(cfg, ResultsStore(Path(tmp) / "a.sqlite"), cache, quiet)
        second = run_benchmark(cfg, ResultsStore(Path(tmp) / "b.sqlite"), cache, quiet)
    print(
        f"full default run ({', '.join(cfg.methods or METHODS.names())} x {first.ran} cells): "
        f"{first.wall_time_s:8.1f} s  (feature extraction {first.feature_seconds:.1f} s)"
    )
    print(
        f"re-run of all protocols from cached features:  {second.wall_time_s:8.1f} s  "
        f"({first.wall_time_s / second.wall_time_s:.1f}x faster; {second.cache_hits} cache hits)"
    )
    split = load_named_splits(cfg.dataset, cfg.dataset_args, ["known_test"])["known_test"]
    images = as_float_images(split.images)
    for name in cfg.methods or METHODS.names():
        method = build_method(name)
        start = time.perf_counter()
        with torch.no_grad():
            for chunk in images.split(256):
                method.features(chunk)
        raw = len(images) / (time.perf_counter() - start)
        piped = first.images_featurised / max(first.feature_seconds, 1e-9)
        print(
            f"{name}: raw forward {raw:9.0f} images/s; "
            f"through Trainer.predict (all methods) {piped:9.0f} images/s"
        )


if __name__ == "__main__":
    main()
