"""Take finished generators from an existing zoo artifact instead of training them again.

A recipe edit that fixes a few generators should not cost the hours the others took, and a
build machine may not outlive the build: ``modelprint zoo build --reuse=<artifact>`` copies
into the work folder every generator of the artifact that was trained as the recipe now says
(:func:`datamodules.zoo.build.trained_as_planned`: steps, batch size, overrides, precision,
architecture revision, network settings, and the training set itself). The training set is
checked by its hash where the artifact's record has one; records from artifacts written
before the hash existed are checked through the artifact's ``real`` images, which are a
seeded draw from the training set: they must be the very images the current training set
gives for that draw. The copied record says where it came from (``reused_from``: the
artifact's data hash).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from datamodules.zoo.artifact import load_manifest, recorded_data_hash
from datamodules.zoo.build import publish, real_picks, trained_as_planned
from datamodules.zoo.recipe import GeneratorSpec, ZooRecipe


def _artifact_images(root: Path, generator_ids: set[str]) -> dict[str, np.ndarray]:
    """uint8 N x 3 x R x R per generator id, in image-index order (the artifact is decoded by
    the DataModule's decoder, once per process)."""
    from datamodules.zoo.datamodule import _decoded

    images, ids, indices = _decoded(str(root), recorded_data_hash(root))
    found: dict[str, list[tuple[int, np.ndarray]]] = {}
    for row, gid in enumerate(ids):
        if gid in generator_ids:
            found.setdefault(gid, []).append((int(indices[row]), images[row]))
    return {gid: np.stack([a for _, a in sorted(rows, key=lambda r: r[0])]) for gid, rows in found.items()}


def _same_training_sets(
    root: Path, recipe: ZooRecipe, sets: dict[str, torch.Tensor], names: set[str]
) -> dict[str, bool]:
    """Per data set name: whether the artifact's ``real-<name>`` images are the current
    training set's seeded draw (the check for records that carry no training-set hash)."""
    count = int(recipe.raw["real_images_per_dataset"])
    stored = _artifact_images(root, {f"real-{name}" for name in names})
    same = {}
    for name in names:
        images = sets[name]
        expected = images[real_picks(name, len(images), count)].numpy()
        got = stored.get(f"real-{name}")
        same[name] = got is not None and got.shape == expected.shape and bool((got == expected).all())
    return same


def reuse_from_artifact(
    recipe: ZooRecipe,
    artifact: str | Path,
    work: Path,
    sets: dict[str, torch.Tensor],
    set_hashes: dict[str, str],
    wanted: list[GeneratorSpec],
) -> list[str]:
    """Copy into ``work`` each of the ``wanted`` generator specs that ``artifact`` holds trained
    as the recipe says, with as many images as it asks for; returns the ids copied. ``sets``
    are the current training sets, ``set_hashes`` their ``training_set_hash``."""
    root = Path(artifact)
    records = {row["generator_id"]: row for row in load_manifest(root)}
    unhashed = {
        s.dataset
        for s in wanted
        if s.generator_id in records and "training_set_hash" not in records[s.generator_id]
    }
    same_set = _same_training_sets(root, recipe, sets, unhashed)
    chosen = []
    for spec in wanted:
        record = records.get(spec.generator_id)
        if record is None:
            continue
        record = {"overrides": {}, **record}
        if "training_set_hash" not in record and same_set[spec.dataset]:
            record["training_set_hash"] = set_hashes[spec.dataset]
        if trained_as_planned(record, spec, recipe, set_hashes[spec.dataset]):
            chosen.append((spec, record))
    images = _artifact_images(root, {spec.generator_id for spec, _ in chosen})
    count = int(recipe.raw["images_per_generator"])
    chosen = [(spec, record) for spec, record in chosen if len(images[spec.generator_id]) == count]
    data_hash = recorded_data_hash(root)
    for spec, record in chosen:
        folder = work / spec.generator_id
        staging = work / f"{spec.generator_id}.tmp"
        shutil.rmtree(staging, ignore_errors=True)  # a killed attempt of another plan
        staging.mkdir(parents=True)
        np.save(staging / "images.npy", images[spec.generator_id])
        log = root / "logs" / f"{spec.generator_id}.csv"
        if log.exists():
            (staging / "metrics.csv").write_bytes(log.read_bytes())
        publish(staging, folder, {**record, "reused_from": data_hash})
    return [spec.generator_id for spec, _ in chosen]
