"""How close each method's featurisation comes to this machine's arithmetic limit. Prints:

* the measured fp32 matmul rate (GFLOP/s, 2048 x 2048, at the thread count asked) - the
  practical ceiling for dense layers on this CPU;
* per method and setting (batch size, ``channels_last``), the model's FLOPs per image (counted
  by ``torch.utils.flop_counter`` on one forward), images/s under ``torch.inference_mode`` and
  the achieved GFLOP/s as a share of the matmul rate.

Weights do not change the arithmetic, so CLIP runs here as its random-init control.

Usage: ``python -m benchmarks.speed.featurise [--methods clip_features synthetic_fingerprint]
[--threads 1] [--batch-sizes 32 128] [--seconds 5]``
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from lightning_modules import METHODS
from lightning_modules.method_config import method_args

DEFAULT_METHODS = ["clip_features", "synthetic_fingerprint", "supervised_cnn", "noise_residual"]


def matmul_gflops(size: int = 2048, seconds: float = 3.0) -> float:
    """Sustained fp32 matmul rate: the practical peak for the dense layers a backbone is made of."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        done += 1
    return 2 * size**3 * done / (time.perf_counter() - start) / 1e9


def flops_per_image(method: torch.nn.Module, images: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        method.features(images[:1])
    return float(counter.get_total_flops())


def images_per_second(method: torch.nn.Module, images: torch.Tensor, seconds: float) -> float:
    with torch.inference_mode():
        method.features(images)  # warm-up (allocations, lazy init)
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            method.features(images)
            done += len(images)
    return done / (time.perf_counter() - start)


def build(name: str) -> torch.nn.Module:
    args = method_args(name)
    if name.startswith("clip_features"):
        args = {**args, "random_init": True, "weights_path": None}
    method = METHODS.create(name, **args)
    if name == "synthetic_fingerprint":
        method.fit_extractor(None, None, 0)  # loads the shipped checkpoint; never reads the data
    elif name == "supervised_cnn":
        method.build(10)  # an untrained network of the trained shape: the arithmetic is the same
    return method.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="*", default=DEFAULT_METHODS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-sizes", nargs="*", type=int, default=[32, 128])
    parser.add_argument("--seconds", type=float, default=5.0)
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    peak = matmul_gflops()
    print(f"fp32 matmul 2048x2048, {options.threads} thread(s): {peak:.1f} GFLOP/s")
    header = ("method", "batch", "layout", "MFLOP/img", "img/s", "GFLOP/s", "of peak")
    print("{:24} {:>5} {:>14} {:>10} {:>8} {:>8} {:>8}".format(*header))
    for name in options.methods:
        method = build(name)
        for batch in options.batch_sizes:
            images = torch.rand(batch, 3, 32, 32)
            flops = flops_per_image(method, images)
            for layout in (torch.contiguous_format, torch.channels_last):
                method = method.to(memory_format=layout)
                rate = images_per_second(method, images.contiguous(memory_format=layout), options.seconds)
                gflops = rate * flops / 1e9
                label = "channels_last" if layout is torch.channels_last else "contiguous"
                print(
                    f"{name:24} {batch:5d} {label:>14} {flops / 1e6:10.1f} {rate:8.1f} {gflops:8.1f} "
                    f"{gflops / peak:8.0%}"
                )


if __name__ == "__main__":
    main()
