"""``modelprint synth describe|stats|show``: inspect and validate the synthetic-model set."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from benchmarks.cli import UsageError, command


@command("synth describe")
def synth_describe(model_id: int, space: str = "paper", resolution: int = 32) -> int:
    """Print the spec and network of one synthetic model (the same on every machine).

    Args:
        model_id: the model's integer id.
        space: the architecture space (paper, extended, paper_nearest_only, ...).
        resolution: input/output size, to count activations.
    """
    from datamodules.synthetic.model import SyntheticGenerator
    from datamodules.synthetic.space import get_space

    try:
        arch_space = get_space(space)
    except KeyError as error:
        raise UsageError(str(error.args[0])) from None
    spec = arch_space.spec(model_id)
    table = Table(
        title=f"synthetic model {model_id} ({space} space: {arch_space.num_architectures} "
        f"architectures x {arch_space.weight_sets} weight sets)",
        show_header=False,
    )
    for key, value in spec.as_dict().items():
        table.add_row(key, str(value))
    net = SyntheticGenerator(spec)
    table.add_row("parameters", f"{sum(p.numel() for p in net.parameters()):,}")
    console = Console()
    console.print(table)
    console.print(net)
    return 0


def _synthetic_images(space: str, num_models: int, images_per_model: int, resolution: int, fit_steps: int):
    from datamodules.synthetic.datamodule import SyntheticImages, input_photos
    from datamodules.synthetic.space import get_space

    arch_space = get_space(space)
    arch_space.check_resolution(resolution)
    dataset = SyntheticImages(
        arch_space,
        range(num_models),
        range(images_per_model),
        images_per_model,
        input_photos(("photos", "faces"), resolution),
        fit_steps,
        cache_models=1,
    )
    for model_id in range(num_models):
        yield model_id, dataset.images(model_id, range(images_per_model))


@command("synth stats")
def synth_stats(
    spaces: list[str] | None = None,
    num_models: int = 200,
    images_per_model: int = 16,
    real_split: str = "generators",
    fit_steps: int = 0,
    seed: int = 0,
    zoo_root: Path | None = None,
) -> int:
    """Fidelity (FFD to real generators) and diversity of synthetic-model spaces, into the store.

    Args:
        spaces: architecture spaces to compare (default: paper, extended, and each one-upsampling space).
        num_models: synthetic models per space (ids 0..N-1).
        images_per_model: images per synthetic model.
        real_split: the zoo split whose generators are the real reference (``known_train`` to
            choose a space for training: never the unseen generators the benchmark tests on).
        fit_steps: reconstruction-fitting steps per synthetic model.
        seed: recorded with the run (the set itself is fixed by the model ids).
        zoo_root: the zoo artifact (default: the shipped one).
    """
    from benchmarks.provenance import run_record
    from core.metrics.synthetic_quality import FingerprintDiversity, FrechetFrequencyDistance
    from datamodules.synthetic.space import SPACES
    from datamodules.zoo.artifact import ARTIFACT_DIR
    from datamodules.zoo.datamodule import load_split
    from leaderboards import Figure, open_store

    spaces = spaces or list(SPACES)
    unknown = [s for s in spaces if s not in SPACES]
    if unknown:
        raise UsageError(f"unknown space(s) {unknown}; valid: {', '.join(SPACES)}")
    real = load_split(real_split, zoo_root or ARTIFACT_DIR)
    resolution = real.images.shape[-1]
    store = open_store()
    table = Table(
        title=f"synthetic-model spaces vs zoo split {real_split!r} ({len(real.generator_ids)} generators)"
    )
    for column in ("source", "models", "FFD (lower: closer to real)", "diversity (higher: more varied)"):
        table.add_column(column)

    start = time.perf_counter()
    real_diversity = FingerprintDiversity(len(real.generator_ids), resolution)
    real_diversity.update(real.images, real.labels)
    reference = float(real_diversity.compute())
    table.add_row(f"zoo:{real_split} (reference)", str(len(real.generator_ids)), "0", f"{reference:.4f}")
    store.write_run(
        run_record(
            method="zoo_generators",
            protocol="synth_stats",
            dataset="zoo",
            split=real_split,
            seed=seed,
            config={"real_split": real_split},
            data_hash=real.data_hash,
            wall_time_s=time.perf_counter() - start,
        ),
        [Figure("diversity", reference)],
    )
    fidelity: dict[str, float] = {}
    for space in spaces:
        start = time.perf_counter()
        ffd = FrechetFrequencyDistance(resolution)
        ffd.update(real.images, real=True)
        diversity = FingerprintDiversity(num_models, resolution)
        for model_id, images in _synthetic_images(space, num_models, images_per_model, resolution, fit_steps):
            ffd.update(images, real=False)
            diversity.update(images, torch.full((len(images),), model_id))
        figures = [Figure("ffd", float(ffd.compute())), Figure("diversity", float(diversity.compute()))]
        config = {
            "space": dataclasses.asdict(SPACES[space]),
            "num_models": num_models,
            "images_per_model": images_per_model,
            "fit_steps": fit_steps,
            "real_split": real_split,
        }
        store.write_run(
            run_record(
                method=f"synthetic:{space}" + (f"+fit{fit_steps}" if fit_steps else ""),
                protocol="synth_stats",
                dataset="zoo",
                split=real_split,
                seed=seed,
                config=config,
                data_hash=real.data_hash,
                wall_time_s=time.perf_counter() - start,
            ),
            figures,
        )
        table.add_row(space, str(num_models), f"{figures[0].value:.2f}", f"{figures[1].value:.4f}")
        fidelity[space] = figures[0].value
    Console().print(table)
    closest = min(fidelity, key=fidelity.__getitem__)
    Console().print(f"closest to zoo:{real_split} (lowest FFD): {closest} ({fidelity[closest]:.1f})")
    Console().print(f"recorded in {store.path}")
    return 0


@command("synth show")
def synth_show(
    out: Path = Path("synthetic_models.png"),
    space: str = "paper",
    model_ids: list[int] | None = None,
    images_per_model: int = 6,
    zoo_root: Path | None = None,
    real_generators: int = 3,
) -> int:
    """A PNG grid: images of synthetic models with the log-spectrum of each model's mean residual,
    beside real zoo generators' (when the zoo artifact is present).

    Args:
        out: the PNG file to write.
        space: the architecture space.
        model_ids: which synthetic models (default: 0..5).
        images_per_model: images shown per model.
        zoo_root: the zoo artifact (default: the shipped one).
        real_generators: how many real zoo generators to show beside them (0: none).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from core.images import log_spectrum
    from datamodules.synthetic.datamodule import SyntheticImages, input_photos
    from datamodules.synthetic.space import get_space
    from datamodules.zoo.artifact import ARTIFACT_DIR, MissingArtifactError
    from datamodules.zoo.datamodule import load_split

    ids = model_ids or list(range(6))
    arch_space = get_space(space)
    dataset = SyntheticImages(
        arch_space, ids, range(max(images_per_model, 32)), 1, input_photos(("photos", "faces"), 32)
    )
    rows: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    for model_id in ids:
        images = dataset.images(model_id, range(32))
        spec = arch_space.spec(model_id)
        label = f"synthetic {model_id}\n{spec.upsampling}/{spec.norm}/{spec.activation}"
        rows.append((label, images[:images_per_model], log_spectrum(images).mean(0)))
    if real_generators:
        try:
            real = load_split("generators", zoo_root or ARTIFACT_DIR)
            step = max(1, len(real.generator_ids) // real_generators)
            for label in range(0, len(real.generator_ids), step)[:real_generators]:
                images = real.images[real.labels == label]
                rows.append(
                    (
                        f"real {real.generator_ids[label]}",
                        images[:images_per_model],
                        log_spectrum(images).mean(0),
                    )
                )
        except MissingArtifactError:
            pass
    fig, axes = plt.subplots(
        len(rows),
        images_per_model + 1,
        figsize=(1.3 * (images_per_model + 1), 1.4 * len(rows)),
        squeeze=False,
    )
    for r, (label, images, spectrum) in enumerate(rows):
        for c in range(images_per_model):
            axes[r, c].imshow(images[c].permute(1, 2, 0).numpy(), interpolation="nearest")
            axes[r, c].axis("off")
        axes[r, -1].imshow(spectrum.numpy(), cmap="magma")
        axes[r, -1].axis("off")
        axes[r, 0].set_title(label, fontsize=6, loc="left")
    axes[0, -1].set_title("mean residual\nlog-spectrum", fontsize=6)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    Console().print(f"wrote {out}")
    return 0
