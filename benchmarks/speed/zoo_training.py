"""What does one training iteration of each zoo generator cost here? Prints the numbers that
size a ``modelprint zoo build`` (and that chose bf16 for the DDPMs on a CPU with bf16 units).

For every architecture of the recipe: seconds per training iteration (batch and resolution of
the recipe, ``--threads`` torch threads, after warm-up), in fp32 and in ``bf16-mixed``, and the
minutes the recipe's iteration budget for that family would take at that rate.

Usage: ``python -m benchmarks.speed.zoo_training --iterations=20 --threads=1 [--architectures=pixelcnn]``
"""

from __future__ import annotations

import argparse

import torch
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.speed.synthetic_data import StepTimer
from core.quiet_trainer import quiet_trainer
from datamodules.zoo.families import create_zoo_generator
from datamodules.zoo.recipe import RECIPE_PATH, ZooRecipe


def seconds_per_iteration(
    family: str, architecture: str, loss: str, recipe: ZooRecipe, precision: str, iterations: int
) -> float:
    model = create_zoo_generator(
        family,
        architecture=architecture,
        loss=loss,
        resolution=recipe.resolution,
        network=recipe.network(architecture),
    )
    batch = int(recipe.raw["batch_size"]) * model.real_batches_per_iteration
    images = torch.rand(batch * (iterations + 4), 3, recipe.resolution, recipe.resolution) * 2 - 1
    timer = StepTimer(warmup=3 * model.optimizer_steps_per_iteration)
    trainer = quiet_trainer(
        max_steps=(iterations + 3) * model.optimizer_steps_per_iteration,
        precision=precision,
        accelerator="cpu",
        callbacks=[timer],
    )
    trainer.fit(model, DataLoader(TensorDataset(images), batch_size=batch, shuffle=False, drop_last=True))
    return timer.mean_ms / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(RECIPE_PATH))
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--precisions", default="32-true,bf16-mixed")
    parser.add_argument("--architectures", default="", help="comma-separated; default: all of the recipe")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = ZooRecipe.load(args.recipe)
    precisions = args.precisions.split(",")
    table = Table(title=f"zoo training, {args.threads} thread(s), batch {recipe.raw['batch_size']}")
    for column in ["architecture", "family", *[f"s/iter {p}" for p in precisions], "budget", "min at best"]:
        table.add_column(column)
    wanted = set(filter(None, args.architectures.split(",")))
    for name, entry in recipe.raw["architectures"].items():
        if wanted and name not in wanted:
            continue
        rates = [
            seconds_per_iteration(entry["family"], name, entry["loss"], recipe, p, args.iterations)
            for p in precisions
        ]
        budget = int(recipe.raw["steps"][entry["family"]])
        table.add_row(
            name,
            entry["family"],
            *[f"{r:.3f}" for r in rates],
            str(budget),
            f"{budget * min(rates) / 60:.1f}",
        )
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
