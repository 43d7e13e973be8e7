"""``modelprint zoo build|show``: train the embedded zoo of real generators, and look at it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks.cli import command
from benchmarks.paths import cache_dir

if TYPE_CHECKING:
    import torch


@command("zoo build")
def zoo_build(
    recipe: Path | None = None,
    out: Path | None = None,
    work: Path | None = None,
    threads: int = 0,
    only: list[str] | None = None,
) -> int:
    """Train every generator of the zoo (resumable) and assemble the shipped artifact.

    Args:
        recipe: the zoo recipe YAML (default: the shipped ``datamodules/zoo/zoo.yaml``).
        out: where the artifact goes (default: ``datamodules/zoo/artifact``).
        work: per-generator results; a killed build resumes from here (default: under the cache).
        threads: torch CPU threads (0: torch's default).
        only: train just these generator ids (no assembly), e.g. to parallelise over machines.
    """
    import torch

    from datamodules.zoo.artifact import ARTIFACT_DIR
    from datamodules.zoo.build import assemble, train_one
    from datamodules.zoo.recipe import RECIPE_PATH, ZooRecipe
    from datamodules.zoo.training_sets import build_training_set

    if threads:
        torch.set_num_threads(threads)
    zoo = ZooRecipe.load(recipe or RECIPE_PATH)
    zoo.check_overrides()
    work = work or cache_dir() / "zoo-build" / zoo.hash
    work.mkdir(parents=True, exist_ok=True)
    specs = [s for s in zoo.generators() if not only or s.generator_id in only]
    todo = [s for s in specs if not (work / s.generator_id / "record.json").exists()]
    console = Console()
    console.print(f"zoo: {len(specs)} generators, {len(specs) - len(todo)} already built in {work}")
    training_sets = {name: build_training_set(name, zoo.resolution) for name in {s.dataset for s in todo}}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("training", total=len(specs), completed=len(specs) - len(todo))
        for spec in todo:
            progress.update(task, description=f"training {spec.generator_id}")
            train_one(spec, zoo, training_sets[spec.dataset], work)
            progress.advance(task)
    if only:
        return 0
    data_hash = assemble(zoo, work, out or ARTIFACT_DIR)
    size = sum(f.stat().st_size for f in (out or ARTIFACT_DIR).rglob("*") if f.is_file())
    console.print(
        f"zoo artifact written to {out or ARTIFACT_DIR}: {size / 1e6:.1f} MB, data hash {data_hash}"
    )
    return 0


@command("zoo show")
def zoo_show(
    out: Path = Path("zoo_samples"), root: Path | None = None, images_per_generator: int = 10
) -> int:
    """Print the zoo's manifest and write one PNG per training set: its real images, then its generators'.

    Args:
        out: directory for the PNGs (``zoo_<dataset>.png``).
        root: the zoo artifact (default: the shipped one).
        images_per_generator: images per row.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rich.table import Table

    from datamodules.zoo.artifact import ARTIFACT_DIR
    from datamodules.zoo.datamodule import load_split

    everything = [load_split("generators", root or ARTIFACT_DIR), load_split("real", root or ARTIFACT_DIR)]
    table = Table(title=f"embedded zoo ({everything[0].data_hash})")
    for column in (
        "generator",
        "family",
        "architecture",
        "loss",
        "data set",
        "seed",
        "role",
        "steps",
        "final losses",
    ):
        table.add_column(column)
    rows: dict[str, list[tuple[str, torch.Tensor]]] = {}
    for split in everything:
        for label, record in enumerate(split.manifest):
            images = split.images[split.labels == label][:images_per_generator]
            rows.setdefault(record["dataset"], []).append((record["generator_id"], images))
            if record["role"] == "real":
                continue
            losses = ", ".join(
                f"{k.removeprefix('loss_')} {v:.3g}" for k, v in record["final_losses"].items()
            )
            table.add_row(
                record["generator_id"],
                record["family"],
                record["architecture"],
                record["loss"],
                record["dataset"],
                str(record["seed"]),
                record["role"],
                str(record["training_steps"]),
                losses,
            )
    Console().print(table)
    out.mkdir(parents=True, exist_ok=True)
    for dataset, entries in rows.items():
        entries.sort(key=lambda e: (not e[0].startswith("real-"), e[0]))
        fig, axes = plt.subplots(
            len(entries),
            images_per_generator,
            figsize=(0.9 * images_per_generator, 0.95 * len(entries)),
            squeeze=False,
        )
        for r, (name, images) in enumerate(entries):
            for c in range(images_per_generator):
                axes[r, c].axis("off")
                if c < len(images):
                    axes[r, c].imshow(images[c].permute(1, 2, 0).numpy(), interpolation="nearest")
            axes[r, 0].set_title(name, fontsize=6, loc="left")
        fig.tight_layout()
        fig.savefig(out / f"zoo_{dataset}.png", dpi=110)
        plt.close(fig)
        Console().print(f"wrote {out / f'zoo_{dataset}.png'}")
    return 0
