"""The shipped zoo artifact: manifest and images agree, hash matches, splits as the recipe says."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
import torch
import yaml

from datamodules.zoo.artifact import ARTIFACT_DIR, compute_data_hash, load_manifest, recorded_data_hash
from datamodules.zoo.datamodule import UNSEEN, load_split
from datamodules.zoo.recipe import ZooRecipe


@pytest.fixture(scope="module")
def manifest() -> list[dict]:
    return load_manifest(ARTIFACT_DIR)


def test_the_zoo_has_the_promised_breadth(manifest: list[dict]) -> None:
    generators = [r for r in manifest if r["role"] != "real"]
    assert len(generators) >= 40
    assert len({r["family"] for r in generators}) >= 4
    assert len({r["architecture"] for r in generators}) >= 10
    assert len({r["dataset"] for r in generators}) >= 3
    assert {r["loss"] for r in generators} >= {"non_saturating", "hinge", "least_squares", "wgan_gp"}
    for record in generators:
        assert record["training_steps"] > 0 and record["final_losses"], record["generator_id"]


def test_manifest_and_images_agree(manifest: list[dict]) -> None:
    everything = load_split("generators", ARTIFACT_DIR)
    counts = collections.Counter(everything.generator_ids[i] for i in everything.labels.tolist())
    recipe = yaml.safe_load((ARTIFACT_DIR / "zoo.yaml").read_text())
    assert set(counts) == {r["generator_id"] for r in manifest if r["role"] != "real"}
    assert set(counts.values()) == {recipe["images_per_generator"]}
    assert recipe["images_per_generator"] >= 300
    real = load_split("real", ARTIFACT_DIR)
    assert set(real.generator_ids) == {r["generator_id"] for r in manifest if r["role"] == "real"}


def test_recorded_hash_matches_the_content() -> None:
    assert recorded_data_hash(ARTIFACT_DIR) == compute_data_hash(ARTIFACT_DIR)


def test_shipped_recipe_is_the_repository_recipe() -> None:
    assert (ARTIFACT_DIR / "zoo.yaml").read_text() == ZooRecipe.load().text


def test_splits_are_disjoint_and_cover_the_split_file(manifest: list[dict]) -> None:
    roles = {r["generator_id"]: r["role"] for r in manifest}
    known = [load_split(s) for s in ("known_train", "known_val", "known_test")]
    indices = [set(s.image_indices.tolist()) for s in known]
    assert not (indices[0] & indices[1]) and not (indices[0] & indices[2]) and not (indices[1] & indices[2])
    assert set(known[0].generator_ids) == {g for g, role in roles.items() if role == "known"}
    union = set()
    for name in UNSEEN:
        ids = set(load_split(name).generator_ids)
        assert ids == {g for g, role in roles.items() if role == name}
        assert not ids & set(known[0].generator_ids) and not ids & union
        union |= ids
    assert set(load_split("unseen_all").generator_ids) == union
    recipe_ids = {s.generator_id: s.role for s in ZooRecipe.load().generators()}
    assert recipe_ids == {g: r for g, r in roles.items() if r != "real"}


def test_loading_is_deterministic() -> None:
    from datamodules.zoo import datamodule

    first = load_split("known_test")
    datamodule._decoded.cache_clear()
    second = load_split("known_test")
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)


def test_artifact_stays_small() -> None:
    size = sum(f.stat().st_size for f in ARTIFACT_DIR.rglob("*") if f.is_file())
    assert size < 60e6, f"zoo artifact is {size / 1e6:.1f} MB"


def test_a_damaged_artifact_is_refused_before_any_figure(tmp_path: Path) -> None:
    """An edited manifest no longer hashes to data_hash.txt: the zoo will not load it."""
    import json
    import shutil

    from datamodules.zoo.artifact import DamagedArtifactError, verify_artifact

    copy = tmp_path / "artifact"
    shutil.copytree(ARTIFACT_DIR, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest[0]["role"] = "known" if manifest[0]["role"] != "known" else "unseen_seed"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DamagedArtifactError, match="not its recorded data hash"):
        verify_artifact(copy, (copy / "data_hash.txt").read_text().strip())


def test_real_images_split_by_index_with_no_image_in_two_real_splits() -> None:
    """The detection protocol's real images: 200 / 50 / 50 per training set by index, and a real
    image repeating an earlier split's (a coinciding faces crop) is dropped from the later one."""
    splits = {name: load_split(name) for name in ("real_train", "real_val", "real_test")}
    assert all(
        s.generator_ids == ("real-digits", "real-faces", "real-photos", "real-shapes")
        for s in splits.values()
    )
    assert [len(s) for s in splits.values()] == [800, 199, 200]
    assert splits["real_train"].image_indices.max() < 200 <= splits["real_val"].image_indices.min()
    assert splits["real_val"].image_indices.max() < 250 <= splits["real_test"].image_indices.min()
    seen: set[bytes] = set()
    for split in splits.values():
        keys = {image.numpy().tobytes() for image in split.images}
        assert not keys & seen
        seen |= keys
