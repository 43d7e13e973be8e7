"""``modelprint zoo build|show``: train the embedded zoo of real generators, and look at it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks.cli import command
from core.paths import cache_dir

if TYPE_CHECKING:
    import torch


@command("zoo build")
def zoo_build(
    recipe: Path | None = None,
    out: Path | None = None,
    work: Path | None = None,
    threads: int = 0,
    only: list[str] | None = None,
    accelerator: str = "cpu",
    workers: int = 1,
    training_sets: Path | None = None,
    reuse: Path | None = None,
) -> int:
    """Train every generator of the zoo (resumable) and assemble the shipped artifact.

    Args:
        recipe: the zoo recipe YAML (default: the shipped ``configs/zoo/zoo.yaml``).
        out: where the artifact goes (default: ``datamodules/zoo/artifact``).
        work: per-generator results; a killed build resumes from here (default: under the cache).
        threads: torch CPU threads per training process (0: torch's default).
        only: train just these generator ids, in this order (no assembly), e.g. to share a
            build between machines.
        accelerator: Lightning accelerator the generators train (and sample) on: ``cpu``,
            ``gpu`` or ``auto``.
        workers: generators trained at once, each in its own process: for CPU cores (on one
            H100, eight processes sharing the GPU were slower than one at a time).
        training_sets: an ``.npz`` of the training sets built elsewhere (one uint8 array per
            name), for a machine whose packages may ship other sample images; assembly
            (the ``real`` images) still builds them here.
        reuse: an artifact (e.g. the shipped ``datamodules/zoo/artifact``) whose generators
            trained as the recipe now says (same steps, settings, architecture revision and
            training set) are copied into ``work`` instead of trained again.
    """
    import torch

    from benchmarks.cli import UsageError
    from datamodules.zoo.artifact import ARTIFACT_DIR
    from datamodules.zoo.build import GeneratorBusyError, assemble, is_built, train_one, training_set_hash
    from datamodules.zoo.recipe import RECIPE_PATH, ZooRecipe
    from datamodules.zoo.training_sets import load_training_sets

    if threads:
        torch.set_num_threads(threads)
    zoo = ZooRecipe.load(recipe or RECIPE_PATH)
    zoo.check_overrides()
    work = work or cache_dir() / "zoo-build" / zoo.hash
    work.mkdir(parents=True, exist_ok=True)
    specs = zoo.generators()
    if only:  # in the order given
        by_id = {s.generator_id: s for s in specs}
        unknown = [g for g in only if g not in by_id]
        if unknown:
            raise UsageError(
                f"--only names generators not in the recipe: {unknown}; valid: {', '.join(sorted(by_id))}"
            )
        specs = [by_id[g] for g in only]
    console = Console()
    sets = load_training_sets({s.dataset for s in specs}, zoo.resolution, training_sets)
    set_hashes = {name: training_set_hash(images) for name, images in sets.items()}
    todo = [s for s in specs if not is_built(s, zoo, work, set_hashes[s.dataset])]
    if reuse and todo:
        from datamodules.zoo.reuse import reuse_from_artifact

        reused = set(reuse_from_artifact(zoo, reuse, work, sets, set_hashes, todo))
        console.print(f"zoo: {len(reused)} generators taken from {reuse}")
        todo = [s for s in todo if s.generator_id not in reused]
    console.print(f"zoo: {len(specs)} generators, {len(specs) - len(todo)} already built in {work}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    busy: list[str] = []  # generators another build is training: skipped, told at the end
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("training", total=len(specs), completed=len(specs) - len(todo))
        if workers <= 1:
            for spec in todo:
                progress.update(task, description=f"training {spec.generator_id}")
                try:
                    train_one(spec, zoo, sets[spec.dataset], work, accelerator)
                except GeneratorBusyError as error:
                    busy.append(str(error))
                progress.advance(task)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            progress.update(task, description=f"training ({workers} at once)")
            if not only:  # the longest first, so the pool ends together
                todo.sort(key=zoo.steps, reverse=True)
            context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                jobs = [
                    pool.submit(train_one, s, zoo, sets[s.dataset], work, accelerator, threads) for s in todo
                ]
                for job in as_completed(jobs):
                    try:
                        progress.update(task, description=f"finished {job.result()}")
                    except GeneratorBusyError as error:
                        busy.append(str(error))
                    progress.advance(task)
    if busy:
        raise UsageError("; ".join(busy))
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
    out: Path = Path("zoo_samples"),
    root: Path | None = None,
    images_per_generator: int = 10,
    work: Path | None = None,
) -> int:
    """Print the zoo's manifest and write one PNG per training set: its real images, then its generators'.

    Args:
        out: directory for the PNGs (``zoo_<dataset>.png``).
        root: the zoo artifact (default: the shipped one).
        images_per_generator: images per row.
        work: show a build in progress instead: the finished generators of this ``zoo build
            --work`` folder, beside the training sets as the code now builds them.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rich.table import Table

    if work is not None:
        title, entries = f"zoo build in progress ({work})", _work_entries(work, images_per_generator)
    else:
        title, entries = _artifact_entries(root, images_per_generator)
    table = Table(title=title)
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
    for record, images in entries:
        rows.setdefault(record["dataset"], []).append((record["generator_id"], images))
        if record["role"] == "real":
            continue
        losses = ", ".join(f"{k.removeprefix('loss_')} {v:.3g}" for k, v in record["final_losses"].items())
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
    for dataset, entries_of_set in rows.items():
        entries_of_set.sort(key=lambda e: (not e[0].startswith("real-"), e[0]))
        fig, axes = plt.subplots(
            len(entries_of_set),
            images_per_generator,
            figsize=(0.9 * images_per_generator, 0.95 * len(entries_of_set)),
            squeeze=False,
        )
        for r, (name, images) in enumerate(entries_of_set):
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


def _artifact_entries(root: Path | None, count: int) -> tuple[str, list[tuple[dict, torch.Tensor]]]:
    """(title, [(manifest record, its first ``count`` images)]) of an artifact, real sources too."""
    from datamodules.zoo.artifact import ARTIFACT_DIR
    from datamodules.zoo.datamodule import load_split

    splits = [load_split("generators", root or ARTIFACT_DIR), load_split("real", root or ARTIFACT_DIR)]
    entries = [
        (record, split.images[split.labels == label][:count])
        for split in splits
        for label, record in enumerate(split.manifest)
    ]
    return f"embedded zoo ({splits[0].data_hash})", entries


def _work_entries(work: Path, count: int) -> list[tuple[dict, torch.Tensor]]:
    """The finished generators of a build folder, and the real images of their training sets
    (the draw the artifact would ship)."""
    import json

    import numpy as np
    import torch

    from datamodules.zoo.build import real_picks
    from datamodules.zoo.training_sets import build_training_set

    entries = []
    for record_path in sorted(Path(work).glob("*/record.json")):
        record = json.loads(record_path.read_text())
        images = torch.from_numpy(np.load(record_path.with_name("images.npy"))[:count])
        entries.append((record, images))
    if not entries:
        raise FileNotFoundError(f"{work}: no finished generator (no */record.json) to show")
    for name in sorted({record["dataset"] for record, _ in entries}):
        images = build_training_set(name, entries[0][1].shape[-1])
        picks = real_picks(name, len(images), count)
        entries.append(({"generator_id": f"real-{name}", "dataset": name, "role": "real"}, images[picks]))
    return entries
