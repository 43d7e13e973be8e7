"""``modelprint zoo build|show``: train the embedded zoo of real generators, and look at it."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks.cli import command
from benchmarks.paths import cache_dir


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
