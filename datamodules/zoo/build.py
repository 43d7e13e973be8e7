"""Train every generator of the zoo, sample its images, and assemble the shipped artifact.

Resumable: each generator is trained in its own step whose result (images, manifest row,
training log) is written to ``<work>/<generator id>.tmp`` and then renamed into place, so a
build killed at any moment resumes from the last finished generator; within a generator, a
checkpoint written after an epoch's last batch every few minutes (``resume.ckpt`` in its
``.tmp`` folder, see :mod:`datamodules.zoo.resume`) lets a killed training go on from there to
the same bytes; a finished training's weights and facts (``trained.json``) and each finished
batch of samples (``sampled.pt``) are kept there too, so a kill while sampling costs only the
batch being drawn. The final assembly writes one parquet file of PNG images (lossless: a lossy
format would overwrite the very traces being attributed), a manifest, the recipe and the logs,
plus a data hash over images and manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from filelock import FileLock, Timeout
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

from core.seeding import derive_seed, seed_all
from datamodules.zoo.families import ZooGenerator, create_zoo_generator
from datamodules.zoo.recipe import RECIPE_OVERRIDES, GeneratorSpec, ZooRecipe
from datamodules.zoo.resume import (
    ResumePoint,
    SamplingProgress,
    checkpoint_step,
    join_logs,
    set_aside_log,
    write_whole,
)
from datamodules.zoo.training_sets import build_training_set
from datamodules.zoo.weights import WEIGHTS_FILE, load_trained_generator, save_weights

FLIPPABLE = {"faces", "photos", "shapes"}  # digits are not mirror-symmetric
RESUME_FILE = "resume.ckpt"  # a training's last checkpoint, in the staging folder
TRAINED_FILE = "trained.json"  # a finished training's facts, in the staging folder
SAMPLED_FILE = "sampled.pt"  # the finished sample batches, in the staging folder
SAMPLE_BATCH = 100  # images a sampling batch (a PixelCNN's batch of 100: 1,024 passes)


class GeneratorBusyError(RuntimeError):
    """Another build is training this generator in the same work folder right now."""


@contextmanager
def generator_lock(work: Path, generator_id: str) -> Iterator[None]:
    """Hold ``work/.locks/<id>.lock`` while a generator trains. Two builds sharing a work folder (say,
    two ``--only`` lists, or a full build started while a share still runs) would otherwise both
    write the generator's staging folder: the later one clears it, and the earlier one publishes
    a log that mixes the two (one shipped log lost its first 5,574 iterations that way)."""
    (work / ".locks").mkdir(parents=True, exist_ok=True)  # out of the way of the generators' folders
    lock = FileLock(work / ".locks" / f"{generator_id}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout as error:
        raise GeneratorBusyError(
            f"zoo: another build is training {generator_id} in {work} (it holds {lock.lock_file}); "
            "let it finish, then run this build again"
        ) from error
    try:
        yield
    finally:
        lock.release()


def train_one(
    spec: GeneratorSpec,
    recipe: ZooRecipe,
    training_images: torch.Tensor,
    work: Path,
    accelerator: str = "cpu",
    threads: int = 0,
    checkpoint_every_s: float = 300.0,
) -> str:
    """Train one generator and write its images, weights (:mod:`datamodules.zoo.weights`), record
    and log into ``work/<id>``.

    Sampling runs on the device that trained the model (a GPU samples a DDPM in seconds where
    the CPU took minutes) and at its training precision, from seeded noise drawn on the CPU.
    A ``resume.ckpt`` left in the staging folder by a killed attempt with the same plan (steps,
    batch size, overrides, precision, accelerator, architecture revision and network settings)
    is trained on from; a finished training of the same plan (weights and ``trained.json``) is
    not trained again, and its kept sample batches are not drawn again; any other is discarded.
    Returns the generator id (so a process pool can report which one finished). Raises
    :class:`GeneratorBusyError`, touching nothing, when another build is training it."""
    with generator_lock(work, spec.generator_id):
        return _train_one(spec, recipe, training_images, work, accelerator, threads, checkpoint_every_s)


def _train_one(
    spec: GeneratorSpec,
    recipe: ZooRecipe,
    training_images: torch.Tensor,
    work: Path,
    accelerator: str,
    threads: int,
    checkpoint_every_s: float,
) -> str:
    if threads:
        torch.set_num_threads(threads)
    final, staging = work / spec.generator_id, work / f"{spec.generator_id}.tmp"
    planned = training_plan(spec, recipe)
    plan = {**planned, "accelerator": accelerator}
    resume, plan_path, trained_path = (staging / name for name in (RESUME_FILE, "plan.json", TRAINED_FILE))
    stored = json.loads(plan_path.read_text()) if plan_path.exists() else {}
    trained = stored == plan and trained_path.exists()
    resuming = not trained and resume.exists() and stored == plan
    if resuming:
        set_aside_log(staging, checkpoint_step(resume))
    elif not trained:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        plan_path.write_text(json.dumps(plan))
    trainer_args: dict[str, Any] = {
        "accelerator": accelerator,
        "devices": 1,
        "precision": planned["precision"],
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    if trained:  # killed while sampling: the trained weights and their facts are kept
        model, facts = load_trained_generator(staging), json.loads(trained_path.read_text())
        trainer = L.Trainer(logger=False, **trainer_args)
    else:
        model, trainer, facts = _train(
            spec, recipe, training_images, staging, trainer_args, checkpoint_every_s, resuming
        )
    start = time.perf_counter()
    root = trainer.strategy.root_device
    device = f"{root} ({torch.cuda.get_device_name(root)})" if root.type == "cuda" else str(root)
    model.to(root)  # Lightning hands the model back on the CPU; sample where it trained
    seed = derive_seed("zoo-sample", spec.generator_id)
    progress = SamplingProgress(staging / SAMPLED_FILE, seed, SAMPLE_BATCH)
    # and at the precision it trained at: bf16 autocast halves a PixelCNN's 300 x 1,024 passes
    with trainer.precision_plugin.forward_context():
        images = model.sample(int(recipe.raw["images_per_generator"]), seed, SAMPLE_BATCH, progress)
    np.save(staging / "images.npy", images.numpy())
    record = {
        "generator_id": spec.generator_id,
        "family": spec.family,
        "architecture": spec.architecture,
        "loss": spec.loss,
        "dataset": spec.dataset,
        "seed": spec.seed,
        "role": spec.role,
        "training_steps": facts["iterations"],
        "optimizer_steps": facts["optimizer_steps"],
        "lr": model.hparams.lr,
        # the plan's settings, as trained (network only where the recipe sets one)
        **{k: v for k, v in planned.items() if k != "steps" and (v or k != "network")},
        "training_set_hash": training_set_hash(training_images),
        "final_losses": {k: round(v, 5) for k, v in facts["final_losses"].items()},
        "train_seconds": round(facts["train_seconds"], 1),
        "trained_on": device,
        "sample_seconds": round(progress.seconds + time.perf_counter() - start, 1),
    }
    if facts["resumed_at"]:
        record["resumed_at_iterations"] = facts["resumed_at"]
    for step_file in (trained_path, staging / SAMPLED_FILE):
        step_file.unlink()
    publish(staging, final, record)
    return spec.generator_id


def _train(
    spec: GeneratorSpec,
    recipe: ZooRecipe,
    training_images: torch.Tensor,
    staging: Path,
    trainer_args: dict[str, Any],
    checkpoint_every_s: float,
    resuming: bool,
) -> tuple[ZooGenerator, L.Trainer, dict[str, Any]]:
    """Train a new generator of ``spec`` on ``training_images`` (uint8; mirrored too where the
    data set allows) for the recipe's steps, from the staging folder's checkpoint when
    ``resuming``. Keeps its weights and the training's facts (``TRAINED_FILE``) in ``staging``
    and returns the model, its trainer and the facts."""
    planned = training_plan(spec, recipe)
    seed_all(derive_seed("zoo-train", spec.generator_id))
    data = training_images.float() / 127.5 - 1
    if spec.dataset in FLIPPABLE:
        data = torch.cat([data, data.flip(-1)])
    settings = {k: v for k, v in planned["overrides"].items() if k not in RECIPE_OVERRIDES}
    model = create_zoo_generator(
        spec.family,
        architecture=spec.architecture,
        loss=spec.loss,
        resolution=recipe.resolution,
        network=planned["network"],
        **settings,
    )
    batch_size = recipe.raw["batch_size"] * model.real_batches_per_iteration
    loader = DataLoader(TensorDataset(data), batch_size=batch_size, shuffle=True, drop_last=True)
    resume = staging / RESUME_FILE
    resume_point = ResumePoint(resume, every_s=checkpoint_every_s)
    trainer = L.Trainer(
        max_steps=planned["steps"] * model.optimizer_steps_per_iteration,
        logger=CSVLogger(staging, name="", version=""),
        log_every_n_steps=25,
        callbacks=[resume_point],
        **trainer_args,
    )
    trainer.fit(model, loader, ckpt_path=resume if resuming else None, weights_only=True)
    join_logs(staging)
    facts = {
        "train_seconds": resume_point.train_seconds(),
        "optimizer_steps": trainer.global_step,
        "iterations": model.iterations,
        "final_losses": model.final_losses,
        "resumed_at": resume_point.resumed_at,
    }
    save_weights(model, staging / WEIGHTS_FILE)
    # after the weights, which it vouches for; the checkpoint is then of no more use
    write_whole(staging / TRAINED_FILE, lambda path: path.write_text(json.dumps(facts)))
    resume.unlink(missing_ok=True)
    return model, trainer, facts


def publish(staging: Path, folder: Path, record: dict) -> None:
    """Write a generator's record into its staging folder, then move the folder into place: a
    generator's folder appears whole (images, log, record) or not at all, which is what
    ``is_built`` relies on after a killed build."""
    (staging / "record.json").write_text(json.dumps(record, indent=1))
    shutil.rmtree(folder, ignore_errors=True)  # a record of another plan
    staging.rename(folder)


def training_set_hash(images: torch.Tensor) -> str:
    """A short content hash of a training set (uint8 N x 3 x R x R), kept in each generator's
    record: a generator trained on other data is not built, whatever its name says."""
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()[:16]


# What a record written before a plan setting existed stood for, for that setting.
_UNRECORDED = {"overrides": {}, "precision": "32-true", "architecture_revision": 1, "network": {}}


def training_plan(spec: GeneratorSpec, recipe: ZooRecipe) -> dict:
    """What the recipe says a generator's training is, besides its code and training set: the
    one source that the resume plan, the generator's record and :func:`trained_as_planned`
    take these settings from."""
    return {
        "steps": recipe.steps(spec),
        "batch_size": recipe.raw["batch_size"],
        "overrides": dict(spec.overrides),
        "precision": recipe.precision(spec),
        "architecture_revision": recipe.revision(spec),
        "network": recipe.network(spec.architecture),
    }


def recorded_plan(record: dict) -> dict:
    """The training plan a generator's record says it was trained to (older records lack
    some settings: they were trained at what ``_UNRECORDED`` says)."""
    return {
        "steps": record["training_steps"],
        "batch_size": record["batch_size"],
        **{key: record.get(key, default) for key, default in _UNRECORDED.items()},
    }


def trained_as_planned(record: dict, spec: GeneratorSpec, recipe: ZooRecipe, set_hash: str) -> bool:
    """Whether a generator's record says it was trained as the recipe now says (the same
    :func:`training_plan`), on the same training set."""
    return recorded_plan(record) == training_plan(spec, recipe) and (
        record.get("training_set_hash") == set_hash
    )


def is_built(spec: GeneratorSpec, recipe: ZooRecipe, work: Path, set_hash: str) -> bool:
    """Whether ``work`` holds this generator trained as the recipe now says (a recipe edit, a
    changed training set or a bumped architecture revision retrains exactly the generators it
    changes; other code changes need a fresh ``--work``, as the default one per recipe hash is)."""
    record_path = work / spec.generator_id / "record.json"
    if not record_path.exists():
        return False
    return trained_as_planned(json.loads(record_path.read_text()), spec, recipe, set_hash)


def real_picks(name: str, size: int, count: int) -> list[int]:
    """Which images of a training set of ``size`` the artifact ships as its ``real`` source."""
    order = torch.randperm(size, generator=torch.Generator().manual_seed(derive_seed("real", name)))
    return order[:count].tolist()


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image.transpose(1, 2, 0)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def assemble(recipe: ZooRecipe, work: Path, out: Path) -> str:
    """Write the artifact from finished generator directories; returns the data hash."""
    import datasets

    from datamodules.zoo.artifact import compute_data_hash

    rows: dict[str, list] = {"image": [], "generator_id": [], "image_index": []}
    manifest = []
    for spec in recipe.generators():
        record = json.loads((work / spec.generator_id / "record.json").read_text())
        record.setdefault("overrides", {})  # records written before overrides existed had none
        manifest.append(record)
        for index, image in enumerate(np.load(work / spec.generator_id / "images.npy")):
            rows["image"].append({"bytes": png_bytes(image), "path": None})
            rows["generator_id"].append(spec.generator_id)
            rows["image_index"].append(index)
    count = int(recipe.raw["real_images_per_dataset"])
    for name in recipe.training_datasets():
        images = build_training_set(name, recipe.resolution)
        manifest.append(
            {
                "generator_id": f"real-{name}",
                "family": "real",
                "architecture": "real",
                "loss": "",
                "dataset": name,
                "seed": 0,
                "role": "real",
                "training_steps": 0,
                "final_losses": {},
            }
        )
        for index, i in enumerate(real_picks(name, len(images), count)):
            rows["image"].append({"bytes": png_bytes(images[i].numpy()), "path": None})
            rows["generator_id"].append(f"real-{name}")
            rows["image_index"].append(index)
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "logs").mkdir(parents=True)
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "generator_id": datasets.Value("string"),
            "image_index": datasets.Value("int32"),
        }
    )
    datasets.Dataset.from_dict(rows, features=features).to_parquet(staging / "images.parquet")
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=1))
    (staging / "zoo.yaml").write_text(recipe.text)
    for spec in recipe.generators():
        log = work / spec.generator_id / "metrics.csv"
        if log.exists():
            shutil.copy(log, staging / "logs" / f"{spec.generator_id}.csv")
    data_hash = compute_data_hash(staging)
    (staging / "data_hash.txt").write_text(data_hash + "\n")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return data_hash
