"""How fast ``modelprint attribute`` answers, against the benchmark's own featurisation rate.

For each method and folder (default: 10,000 images of 32 px and 1,000 of 512 px, random PNGs
written once into ``--work``), builds a gallery of 8 reference generators x 10 images, then
times :meth:`Gallery.attribute` over the folder (decoding, resizing/cropping to the method's
input, ``Trainer.predict``, the gallery lookup, the answers) and, for the 32-px folder, the
benchmark's featurisation of the same images already decoded (``benchmarks.featurise.extract``
over a tensor split, as a benchmark cell does). The ratio says whether decoding and the lookup
or the network bound the tool. Prints one table.

Usage: ``python -m benchmarks.speed.attribute [--methods synthetic_fingerprint noise_residual]
[--threads 1 2] [--sizes 32:10000 512:1000] [--work /tmp/modelprint-attribute-speed]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

from benchmarks.attribution import Gallery
from benchmarks.featurise import extract
from core.console import quiet

REFERENCE_GENERATORS, REFERENCES_EACH = 8, 10


def write_images(folder: Path, count: int, size: int, seed: int) -> list[Path]:
    """``count`` random ``size`` px PNGs (kept between calls: writing is not what is measured)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"{i:05d}.png" for i in range(count)]
    rng = np.random.default_rng(seed)
    for file in files:
        if not file.exists():
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(file)
    return files


def reference_folder(work: Path) -> Path:
    root = work / "references"
    for g in range(REFERENCE_GENERATORS):
        write_images(root / f"generator-{g}", REFERENCES_EACH, 32, seed=g)
    return root


def featurisation_rate(gallery: Gallery, files: list[Path], batch_size: int) -> float:
    """Images/s of the benchmark's path on the same images, decoded beforehand."""
    images = torch.stack(
        [torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1) for f in files]
    )
    method = gallery.method(batch_size)
    extract(method, SimpleNamespace(images=images[:batch_size]), batch_size)  # warm-up
    start = time.perf_counter()
    extract(method, SimpleNamespace(images=images), batch_size)
    return len(files) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="*", default=["synthetic_fingerprint", "noise_residual"])
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    parser.add_argument("--sizes", nargs="*", default=["32:10000", "512:1000"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--work", type=Path, default=Path("/tmp/modelprint-attribute-speed"))
    options = parser.parse_args()
    references = reference_folder(options.work)
    print(f"batch {options.batch_size}; attribute with its default decoding worker")
    print(
        f"{'method':24} {'threads':>7} {'images':>12} {'attribute img/s':>16} "
        f"{'featurise img/s':>16} {'ratio':>6}"
    )
    for name in options.methods:
        with quiet():
            gallery = Gallery.build(references, method=name, batch_size=options.batch_size)
        for threads in options.threads:
            torch.set_num_threads(threads)
            for setting in options.sizes:
                size, count = (int(part) for part in setting.split(":"))
                files = write_images(options.work / f"{size}px", count, size, seed=1000 + size)
                with quiet():
                    start = time.perf_counter()
                    answers = gallery.attribute(files, batch_size=options.batch_size)
                    rate = len(files) / (time.perf_counter() - start)
                    assert not any(a.error for a in answers), "every speed-test image decodes"
                    base = featurisation_rate(gallery, files, options.batch_size) if size == 32 else None
                shown = f"{base:16.1f} {rate / base:6.0%}" if base else f"{'':16} {'':6}"
                print(f"{name:24} {threads:>7} {f'{count} x {size}px':>12} {rate:16.1f} {shown}", flush=True)


if __name__ == "__main__":
    main()
