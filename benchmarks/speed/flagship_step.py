"""Where the flagship's training step spends its time, against this machine's matmul rate.

One step of the shipped recipe (P x K = 8 x 8 images at 32 x 32) cut into its parts, each
timed alone at the thread count asked, with FLOPs counted by ``torch.utils.flop_counter``:

* ``generate``: the synthetic models' forward passes that make the step's 64 images (models
  already built, as in a warm worker);
* ``deliver``: the delivery chain (JPEG, resizing, blur, noise, crops) on those images;
* ``prepare``: the frozen DnCNN residual and its FFT magnitude (the extractor's input);
* ``backbone``: the network's forward, loss (CE + batch-hard triplet), backward and AdamW step;
* ``step``: everything above in sequence (what a training step costs without Lightning);
* ``lightning``: a real ``train_extractor`` run's mean step (DataModule, Lightning loop).

Usage: ``python -m benchmarks.speed.flagship_step [--threads 1 2] [--steps 20]
[--config configs/extractor/shipped.yaml]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.speed.featurise import matmul_gflops
from core.paths import config_file
from datamodules.synthetic.datamodule import SyntheticModelDataModule
from datamodules.synthetic.delivery import DeliveryChain
from lightning_modules.synthetic_fingerprint.lightning_module import FingerprintTraining
from lightning_modules.synthetic_fingerprint.network import batch_hard_triplet_loss
from lightning_modules.synthetic_fingerprint.training import ExtractorTrainingConfig, train_extractor


def timed(fn: Callable[[], Any], steps: int) -> tuple[float, float]:
    """(seconds per call, FLOPs per call) after one warm-up call."""
    fn()
    with FlopCounterMode(display=False) as counter:
        fn()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps, float(counter.get_total_flops())


def parts(cfg: ExtractorTrainingConfig) -> dict[str, Callable[[], Any]]:
    data = {**cfg.data, "num_models": 16, "val_fraction": 0, "num_workers": 0}
    dm = SyntheticModelDataModule(**data)
    dm.setup("fit")
    dataset, k = dm.train_set, dm.hparams.images_per_group
    models = dataset.model_ids[: dm.hparams.models_per_batch]
    for m in models:
        dataset.model(m)
    chain = dm.delivery or DeliveryChain.from_config(True)
    module = FingerprintTraining(num_classes=16, net=cfg.net, triplet_weight=cfg.triplet_weight)
    optimiser = torch.optim.AdamW(module.parameters(), lr=cfg.lr)
    module.train()
    state: dict[str, Any] = {"round": 0}

    def generate() -> torch.Tensor:
        return torch.cat([dataset.images(m, range(k)) for m in models])

    made = generate()
    labels = torch.arange(len(models)).repeat_interleave(k)

    def deliver() -> torch.Tensor:
        state["round"] += 1
        return torch.cat(
            [chain(made[i * k : (i + 1) * k], m, range(k), state["round"]) for i, m in enumerate(models)]
        )

    images = made.float() / 127.5 - 1

    def prepare() -> torch.Tensor:
        x = module.net.prepare(images)
        return x.contiguous(memory_format=torch.channels_last) if module.net.channels_last else x

    prepared = prepare()

    def backbone() -> None:
        optimiser.zero_grad(set_to_none=True)
        embeddings = module.net.embedding(module.net.backbone(prepared))
        loss = F.cross_entropy(module.classifier(embeddings), labels)
        loss = loss + cfg.triplet_weight * batch_hard_triplet_loss(embeddings, labels, cfg.margin)
        loss.backward()
        optimiser.step()

    def step() -> None:
        nonlocal prepared
        generate()
        deliver()
        prepared = prepare()
        backbone()

    return {"generate": generate, "deliver": deliver, "prepare": prepare, "backbone": backbone, "step": step}


def lightning_step(cfg: ExtractorTrainingConfig, steps: int) -> float:
    """Mean seconds per step of a real (short) training run, validation off."""
    # 8 models: their images are made in the first step and reused, so the mean is a warm step
    data = {**cfg.data, "num_models": 8, "val_fraction": 0, "num_workers": 0, "cache_models": 8}
    short = ExtractorTrainingConfig(**{**cfg.__dict__, "data": data, "image_budget": 64 * steps})
    with tempfile.TemporaryDirectory() as out:
        summary = train_extractor(short, Path(out), quiet=True)
    return summary["wall_time_s"] / summary["steps"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--config", default=str(config_file("extractor", "shipped.yaml")))
    args = parser.parse_args()
    cfg = ExtractorTrainingConfig.from_yaml(args.config)
    print(f"config {args.config}; batch 64 images at {cfg.data.get('resolution', 32)} px")
    print("| threads | layout | part | ms / step | GFLOP / step | GFLOP/s | of matmul rate | images/s |")
    print("|---|---|---|---|---|---|---|---|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        peak = matmul_gflops()
        print(f"| {threads} | | matmul 2048 | | | {peak:.1f} | 100% | |")
        for layout in (False, True):
            variant = replace(cfg, net={**cfg.net, "channels_last": layout})
            name_of_layout = "channels_last" if layout else "contiguous"
            for name, fn in parts(variant).items():
                seconds, flops = timed(fn, args.steps)
                rate = flops / seconds / 1e9
                print(
                    f"| {threads} | {name_of_layout} | {name} | {1e3 * seconds:.1f} | {flops / 1e9:.2f} "
                    f"| {rate:.1f} | {rate / peak:.0%} | {64 / seconds:.0f} |"
                )
            seconds = lightning_step(variant, args.steps)
            print(
                f"| {threads} | {name_of_layout} | lightning (train_extractor) | {1e3 * seconds:.1f} "
                f"| | | | {64 / seconds:.0f} |"
            )


if __name__ == "__main__":
    main()
