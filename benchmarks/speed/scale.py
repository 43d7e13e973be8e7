"""Zero shot and open set over thousands of generators: peak memory and time. Prints a table.

Each size runs in a fresh process (peak resident memory is per process): a folder of G
generators x 10 images (32 px PNGs, each generator its own fixed pattern plus noise, so the
method has something to find) evaluated by ``noise_residual`` with the zoo's known
generators as the reference. The data set's own record and the split checks are part of
the run, as a user meets them.

Usage: ``python -m benchmarks.speed.scale --generators 1000 5000 [--images 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_folder(root: Path, generators: int, images: int) -> None:
    """``root/g00000/000.png ...``: generator g's images share a seeded pattern."""
    import numpy as np
    from PIL import Image

    for g in range(generators):
        folder = root / f"g{g:05d}"
        folder.mkdir(parents=True)
        rng = np.random.default_rng(g)
        pattern = rng.normal(0, 12, (32, 32, 3))
        for i in range(images):
            base = rng.uniform(60, 190, (1, 1, 3)) + rng.normal(0, 20, (32, 32, 3))
            pixels = np.clip(base + pattern, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:03d}.png")


def measure(generators: int, images: int) -> dict[str, float]:
    """One size, in this process: returns seconds and peak memory."""
    from benchmarks.config import BenchmarkConfig
    from benchmarks.feature_cache import FeatureCache
    from benchmarks.runner import run_benchmark
    from leaderboards.store import ResultsStore

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "folder"
        start = time.perf_counter()
        write_folder(root, generators, images)
        written = time.perf_counter() - start
        cfg = BenchmarkConfig(
            methods=["noise_residual"],
            protocols=["zero_shot", "open_set"],
            dataset="imagefolder",
            dataset_args={"path": str(root)},
            bootstrap_samples=0,
            protocol_args={"zero_shot": {"gallery_per_model": 5}, "open_set": {"subsets": ["unseen_all"]}},
        )
        start = time.perf_counter()
        summary = run_benchmark(
            cfg, ResultsStore(Path(scratch) / "r.sqlite"), FeatureCache(Path(scratch) / "c")
        )
        seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "generators": generators,
        "images": generators * images,
        "write_s": round(written, 1),
        "run_s": round(seconds, 1),
        "featurise_s": round(summary.feature_seconds, 1),
        "peak_gib": round(peak_kib / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process's size
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.images)))
        return
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "MODELPRINT_WANDB": "off"}
    print("| generators | images | write s | run s | featurise s | peak GiB |")
    print("|---|---|---|---|---|---|")
    for generators in args.generators:
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.speed.scale",
                "--one",
                str(generators),
                "--images",
                str(args.images),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if child.returncode != 0:
            print(f"| {generators} | failed: {child.stderr.strip().splitlines()[-1:]} |")
            continue
        row = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"| {row['generators']} | {row['images']} | {row['write_s']} | {row['run_s']} | "
            f"{row['featurise_s']} | {row['peak_gib']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
