"""The zoo pipeline on a tiny recipe: build, resume after a kill, artifact, splits, DataModule."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import yaml
from filelock import FileLock
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.cli import main
from core.quiet_trainer import quiet_trainer
from core.seeding import derive_seed
from datamodules import create_dataset
from datamodules.zoo import build as zoo_build
from datamodules.zoo.architectures import Z_DIM, PixelShuffleGenerator
from datamodules.zoo.artifact import MissingArtifactError, compute_data_hash, recorded_data_hash
from datamodules.zoo.build import GeneratorBusyError, train_one, trained_as_planned, training_plan
from datamodules.zoo.datamodule import UnknownSplitError, load_split
from datamodules.zoo.families import GAN_ARCHITECTURES, create_zoo_generator
from datamodules.zoo.recipe import ZooRecipe
from datamodules.zoo.resume import ResumePoint, SamplingProgress, join_logs, set_aside_log
from datamodules.zoo.training_sets import (
    TRAINING_SETS,
    build_training_set,
    load_training_sets,
    save_training_sets,
)
from datamodules.zoo.weights import load_trained_generator

TINY = {
    "resolution": 32,
    "images_per_generator": 12,
    "real_images_per_dataset": 6,
    "known_image_split": {"train": 6, "val": 3, "test": 3},
    "batch_size": 8,
    "steps": {"gan": 2, "vae": 2, "diffusion": 2, "autoregressive": 1},
    "architectures": {
        "dcgan": {"family": "gan", "loss": "wgan_gp"},
        "pixelshuffle": {"family": "gan", "loss": "hinge"},
        "vae_deconv": {"family": "vae", "loss": "elbo"},
        "ddpm_unet": {"family": "diffusion", "loss": "epsilon_mse"},
        # a narrow PixelCNN samples its 1,024 passes 4x faster than the zoo's own
        "pixelcnn": {
            "family": "autoregressive",
            "loss": "categorical_nll",
            "network": {"width": 4, "scales": 2},
        },
    },
    "roles": {
        "known": {"architectures": ["dcgan", "vae_deconv"], "datasets": ["digits", "shapes"], "seeds": [0]},
        "unseen_seed": {"architectures": ["dcgan"], "datasets": ["digits"], "seeds": [1]},
        "unseen_dataset": [{"architectures": ["vae_deconv"], "datasets": ["faces"], "seeds": [0]}],
        "unseen_architecture": {
            "architectures": ["pixelshuffle", "ddpm_unet", "pixelcnn"],
            "datasets": ["digits"],
            "seeds": [0],
        },
    },
}


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("zoo")
    recipe = base / "zoo.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    paths = {"recipe": recipe, "work": base / "work", "out": base / "artifact"}
    args = [f"--recipe={recipe}", f"--work={paths['work']}", f"--out={paths['out']}", "--threads=1"]
    assert main(["zoo", "build", *args]) == 0
    paths["args"] = args  # type: ignore[assignment]
    return paths


def test_artifact_manifest_and_images_agree(tiny_zoo: dict[str, Path]) -> None:
    out = tiny_zoo["out"]
    manifest = json.loads((out / "manifest.json").read_text())
    generators = [r for r in manifest if r["role"] != "real"]
    assert len(generators) == 9 and {r["family"] for r in generators} == {
        "gan",
        "vae",
        "diffusion",
        "autoregressive",
    }
    for record in generators:
        assert set(record) >= {
            "generator_id",
            "family",
            "architecture",
            "loss",
            "dataset",
            "seed",
            "role",
            "training_steps",
            "final_losses",
        }
        assert record["final_losses"], record["generator_id"]
    everything = load_split("generators", out)
    assert len(everything) == 9 * 12
    assert set(everything.generator_ids) == {r["generator_id"] for r in generators}
    assert len(load_split("real", out)) == 3 * 6  # digits, shapes, faces
    assert (out / "zoo.yaml").exists() and (out / "logs").is_dir()


def test_a_generator_s_kept_weights_sample_its_images_again(tiny_zoo: dict[str, Path]) -> None:
    """The work folder keeps each trained generator's weights: reloaded, the generator draws
    the very images the build sampled from the same seed, without retraining."""
    count = TINY["images_per_generator"]
    for gen_id in ("dcgan-digits-s0", "vae_deconv-faces-s0", "ddpm_unet-digits-s0", "pixelcnn-digits-s0"):
        folder = tiny_zoo["work"] / gen_id
        model = load_trained_generator(folder)
        images = model.sample(count, derive_seed("zoo-sample", gen_id))
        assert np.array_equal(images.numpy(), np.load(folder / "images.npy")), gen_id


def test_a_generator_without_kept_weights_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="weights were not kept"):
        load_trained_generator(tmp_path)


def test_recorded_data_hash_matches_the_content(tiny_zoo: dict[str, Path]) -> None:
    assert recorded_data_hash(tiny_zoo["out"]) == compute_data_hash(tiny_zoo["out"])


def test_a_killed_build_resumes_and_reproduces_the_same_artifact(
    tiny_zoo: dict[str, Path], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    shutil.copytree(tiny_zoo["work"], work)
    victim = work / "pixelcnn-digits-s0"
    shutil.rmtree(victim)  # killed while training this one: only its staging directory remains
    (work / "pixelcnn-digits-s0.tmp").mkdir()
    (work / "pixelcnn-digits-s0.tmp" / "half-written").write_text("x")
    survivor = work / "dcgan-digits-s0" / "record.json"
    before = survivor.stat().st_mtime_ns
    out = tmp_path / "artifact"
    args = [f"--recipe={tiny_zoo['recipe']}", f"--work={work}", f"--out={out}", "--threads=1"]
    assert main(["zoo", "build", *args]) == 0
    assert survivor.stat().st_mtime_ns == before  # finished generators are not retrained
    assert (victim / "record.json").exists() and not (work / "pixelcnn-digits-s0.tmp").exists()
    # training is deterministic: the retrained generator's images are the same bytes
    assert torch.equal(load_split("generators", out).images, load_split("generators", tiny_zoo["out"]).images)
    assert recorded_data_hash(out) == recorded_data_hash(tiny_zoo["out"])


def test_splits_are_disjoint_and_cover_the_recipe(tiny_zoo: dict[str, Path]) -> None:
    out = tiny_zoo["out"]
    known = [load_split(s, out) for s in ("known_train", "known_val", "known_test")]
    assert [len(s) for s in known] == [4 * 6, 4 * 3, 4 * 3]
    assert all(s.generator_ids == known[0].generator_ids for s in known)
    index_sets = [set(s.image_indices.tolist()) for s in known]
    assert not (
        index_sets[0] & index_sets[1] or index_sets[0] & index_sets[2] or index_sets[1] & index_sets[2]
    )
    unseen = {
        name: set(load_split(name, out).generator_ids)
        for name in ("unseen_seed", "unseen_dataset", "unseen_architecture")
    }
    assert unseen == {
        "unseen_seed": {"dcgan-digits-s1"},
        "unseen_dataset": {"vae_deconv-faces-s0"},
        "unseen_architecture": {"pixelshuffle-digits-s0", "ddpm_unet-digits-s0", "pixelcnn-digits-s0"},
    }
    assert set(load_split("unseen_all", out).generator_ids) == set().union(*unseen.values())
    assert not set(known[0].generator_ids) & set().union(*unseen.values())
    recipe = ZooRecipe.load(tiny_zoo["recipe"])
    assert {s.generator_id for s in recipe.generators()} == set(load_split("generators", out).generator_ids)


def test_loading_is_deterministic_and_the_datamodule_serves_batches(tiny_zoo: dict[str, Path]) -> None:
    a, b = load_split("known_test", tiny_zoo["out"]), load_split("known_test", tiny_zoo["out"])
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    dm = create_dataset("zoo", split="unseen_all", root=tiny_zoo["out"], batch_size=5)
    images, labels = next(iter(dm.test_dataloader()))
    assert images.shape == (5, 3, 32, 32) and images.min() >= -1 and images.max() <= 1
    assert labels.dtype == torch.long


def test_unknown_split_and_missing_artifact_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(UnknownSplitError, match="unknown zoo split 'knwon_test'; valid: known_train"):
        create_dataset("zoo", split="knwon_test")
    with pytest.raises(MissingArtifactError, match="build it with `modelprint zoo build`"):
        load_split("known_test", tmp_path)


def test_zoo_show_writes_a_grid_per_training_set(tiny_zoo: dict[str, Path], tmp_path: Path) -> None:
    assert main(["zoo", "show", f"--root={tiny_zoo['out']}", f"--out={tmp_path}"]) == 0
    assert {p.name for p in tmp_path.glob("*.png")} == {"zoo_digits.png", "zoo_shapes.png", "zoo_faces.png"}
    in_progress = tmp_path / "work"  # a build in progress: two finished generators
    for gen_id in ("dcgan-digits-s0", "vae_deconv-faces-s0"):
        shutil.copytree(tiny_zoo["work"] / gen_id, in_progress / gen_id)
    assert main(["zoo", "show", f"--work={in_progress}", f"--out={tmp_path / 'grids'}"]) == 0
    assert {p.name for p in (tmp_path / "grids").glob("*.png")} == {"zoo_digits.png", "zoo_faces.png"}
    with pytest.raises(FileNotFoundError, match="no finished generator"):
        main(["zoo", "show", f"--work={tmp_path / 'grids'}", f"--out={tmp_path}"])


def test_synth_stats_records_fidelity_and_diversity(tiny_zoo: dict[str, Path]) -> None:
    from core.paths import results_store_path
    from leaderboards.store import ResultsStore

    args = [
        "synth",
        "stats",
        "--spaces=[paper, paper_nearest_only]",
        "--num_models=4",
        "--images_per_model=4",
        f"--zoo_root={tiny_zoo['out']}",
    ]
    assert main(args) == 0
    rows = ResultsStore(results_store_path()).figure_rows(protocol="synth_stats")
    figures = {(r["method"], r["metric"]): r["value"] for r in rows}
    assert set(figures) == {
        ("zoo_generators", "diversity"),
        ("synthetic:paper", "ffd"),
        ("synthetic:paper", "diversity"),
        ("synthetic:paper_nearest_only", "ffd"),
        ("synthetic:paper_nearest_only", "diversity"),
    }
    assert all(v > 0 for v in figures.values())
    assert {r["data_hash"] for r in rows} == {recorded_data_hash(tiny_zoo["out"])}


def test_synth_show_and_describe(
    tiny_zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert (
        main(
            [
                "synth",
                "show",
                f"--out={tmp_path / 's.png'}",
                f"--zoo_root={tiny_zoo['out']}",
                "--model_ids=[0, 1]",
                "--images_per_model=3",
            ]
        )
        == 0
    )
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert main(["synth", "describe", "1234"]) == 0
    assert "nearest" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(TRAINING_SETS))
def test_training_sets_are_deterministic_uint8_at_the_resolution(name: str) -> None:
    a = build_training_set(name, 16)
    assert a.dtype == torch.uint8 and a.shape[1:] == (3, 16, 16) and len(a) >= 300
    assert torch.equal(a, build_training_set(name, 16))


def test_recipe_overrides_are_checked_and_applied(tmp_path: Path) -> None:
    recipe_path = tmp_path / "zoo.yaml"
    recipe_path.write_text(
        yaml.safe_dump({**TINY, "overrides": {"dcgan-digits-s0": {"lr": 1e-4, "steps": 3}}})
    )
    spec = next(s for s in ZooRecipe.load(recipe_path).generators() if s.generator_id == "dcgan-digits-s0")
    assert dict(spec.overrides) == {"lr": 1e-4, "steps": 3}
    recipe = ZooRecipe.load(recipe_path)
    assert recipe.steps(spec) == 3 and recipe.steps(recipe.generators()[1]) == TINY["steps"]["gan"]
    recipe_path.write_text(yaml.safe_dump({**TINY, "overrides": {"dcgan-digits-s0": {"momentum": 1}}}))
    with pytest.raises(ValueError, match="unknown setting"):
        ZooRecipe.load(recipe_path).generators()
    with pytest.raises(ValueError, match="valid: steps, loss, lr, decoder_sigma"):  # a family's own
        ZooRecipe({**TINY, "overrides": {"vae_deconv-digits-s0": {"critic_steps": 5}}}, "").generators()
    recipe_path.write_text(yaml.safe_dump({**TINY, "overrides": {"nope-s0": {"lr": 1}}}))
    with pytest.raises(ValueError, match="not in the recipe"):
        ZooRecipe.load(recipe_path).check_overrides()


def test_an_unknown_family_in_the_recipe_is_named() -> None:
    architectures = {**TINY["architectures"], "dcgan": {"family": "flow", "loss": "nll"}}
    with pytest.raises(KeyError, match="unknown zoo family 'flow'; valid: gan, vae"):
        ZooRecipe({**TINY, "architectures": architectures}, "").generators()
    with pytest.raises(KeyError, match="unknown zoo family 'flow'"):
        create_zoo_generator("flow", architecture="glow")


def test_an_override_of_a_family_setting_reaches_the_model(tmp_path: Path) -> None:
    """The VAE's reconstruction term is scaled by 1 / (2 decoder_sigma^2): an override of
    decoder_sigma from 0.1 to 1.0 makes it about 100 times smaller, and the record says why."""
    losses = {}
    for sigma in (None, 1.0):
        overrides = {"vae_deconv-digits-s0": {"decoder_sigma": sigma}} if sigma else {}
        zoo = ZooRecipe({**TINY, "overrides": overrides}, "")
        spec = next(s for s in zoo.generators() if s.generator_id == "vae_deconv-digits-s0")
        images = build_training_set(spec.dataset, zoo.resolution)[:16]
        train_one(spec, zoo, images, tmp_path / str(sigma), threads=1)
        record = json.loads((tmp_path / str(sigma) / spec.generator_id / "record.json").read_text())
        losses[sigma] = record["final_losses"]["loss_reconstruction"]
    assert record["overrides"] == {"decoder_sigma": 1.0}
    assert 30 < losses[None] / losses[1.0] < 300


def test_a_parallel_build_from_prebuilt_training_sets_trains_the_same_generators(
    tiny_zoo: dict[str, Path], tmp_path: Path
) -> None:
    """Two worker processes, training sets read from an .npz, a chosen order: the same bytes as
    the serial build (each generator is seeded by its id, not by when or where it trains)."""
    sets = tmp_path / "sets.npz"
    save_training_sets(["digits", "faces", "shapes"], 32, sets)
    work = tmp_path / "work"
    ids = ["pixelcnn-digits-s0", "dcgan-digits-s1", "vae_deconv-faces-s0"]
    args = [f"--recipe={tiny_zoo['recipe']}", f"--work={work}", "--threads=1", f"--training_sets={sets}"]
    assert main(["zoo", "build", *args, "--workers=2", f"--only=[{','.join(ids)}]"]) == 0
    built = sorted(p.name for p in work.iterdir() if not p.name.startswith("."))  # not .locks
    assert built == sorted(ids)  # only those, no assembly
    for gen_id in ids:
        assert np.array_equal(
            np.load(work / gen_id / "images.npy"), np.load(tiny_zoo["work"] / gen_id / "images.npy")
        )
        assert json.loads((work / gen_id / "record.json").read_text())["trained_on"] == "cpu"
    assert main(["zoo", "build", *args, "--only=[nope-s0]"]) == 2  # one line: not in the recipe


def test_prebuilt_training_sets_are_checked(tmp_path: Path) -> None:
    np.savez(tmp_path / "bad.npz", digits=np.zeros((4, 3, 16, 16), dtype=np.uint8))
    with pytest.raises(KeyError, match="no training set\\(s\\) \\['faces'\\]"):
        load_training_sets({"faces"}, 16, tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="expected N x 3 x 32 x 32 uint8"):
        load_training_sets({"digits"}, 32, tmp_path / "bad.npz")
    assert load_training_sets({"digits"}, 16, tmp_path / "bad.npz")["digits"].shape == (4, 3, 16, 16)


def test_unseen_all_takes_its_features_from_the_unseen_subsets(tiny_zoo: dict[str, Path]) -> None:
    """The runner featurises unseen_all by gathering its parts' rows: with the images themselves
    as the 'features', the gathered rows must be unseen_all's own images, in its order."""
    from benchmarks.featurise import features_from_parts

    out = tiny_zoo["out"]
    union = load_split("unseen_all", out)
    parts = [load_split(name, out) for name in ("unseen_architecture", "unseen_seed", "unseen_dataset")]
    done = [(p, p.images.flatten(1).float()) for p in parts]
    assert torch.equal(features_from_parts(union, done), union.images.flatten(1).float())
    assert features_from_parts(union, done[:2]) is None  # unseen_dataset's images are missing
    known = load_split("known_train", out)
    assert features_from_parts(known, done) is None
    assert features_from_parts(known, [(known, known.images.flatten(1).float())]) is not None


def test_a_recipe_edit_retrains_exactly_the_generators_it_changes(
    tiny_zoo: dict[str, Path], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    shutil.copytree(tiny_zoo["work"], work)
    recipe = tmp_path / "zoo.yaml"
    recipe.write_text(yaml.safe_dump({**TINY, "overrides": {"pixelcnn-digits-s0": {"steps": 2}}}))
    untouched = work / "dcgan-digits-s0" / "record.json"
    before = untouched.stat().st_mtime_ns
    ids = "[pixelcnn-digits-s0,dcgan-digits-s0]"
    assert main(["zoo", "build", f"--recipe={recipe}", f"--work={work}", "--threads=1", f"--only={ids}"]) == 0
    assert untouched.stat().st_mtime_ns == before
    record = json.loads((work / "pixelcnn-digits-s0" / "record.json").read_text())
    assert record["training_steps"] == 2 and record["overrides"] == {"steps": 2}
    recipe.write_text(yaml.safe_dump({**TINY, "batch_size": 4}))  # every generator trained anew
    assert main(["zoo", "build", f"--recipe={recipe}", f"--work={work}", "--threads=1", f"--only={ids}"]) == 0
    assert untouched.stat().st_mtime_ns != before
    assert json.loads(untouched.read_text())["batch_size"] == 4


class _Killed(Exception):
    """Stands for the end of a session in the middle of a generator's training."""


@pytest.mark.parametrize("architecture", ["dcgan", "ddpm_unet"])
def test_a_training_killed_mid_generator_resumes_from_its_checkpoint_to_the_same_images(
    architecture: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = tmp_path / "zoo.yaml"
    recipe.write_text(yaml.safe_dump({**TINY, "steps": {**TINY["steps"], "gan": 9, "diffusion": 9}}))
    zoo = ZooRecipe.load(recipe)
    spec = next(s for s in zoo.generators() if s.architecture == architecture and s.dataset == "digits")
    images = build_training_set(spec.dataset, zoo.resolution)[:24]  # 3 batches of 8 per epoch
    train_one(spec, zoo, images, tmp_path / "whole", threads=1, checkpoint_every_s=0)

    save = ResumePoint.on_train_batch_end

    def save_then_die_after_six_iterations(self, trainer, module, *args) -> None:
        save(self, trainer, module, *args)
        if module.iterations == 6:
            raise _Killed

    with monkeypatch.context() as patch:
        patch.setattr(ResumePoint, "on_train_batch_end", save_then_die_after_six_iterations)
        with pytest.raises(_Killed):
            train_one(spec, zoo, images, tmp_path / "killed", threads=1, checkpoint_every_s=0)
    staging = tmp_path / "killed" / f"{spec.generator_id}.tmp"
    assert (staging / "resume.ckpt").exists()
    train_one(spec, zoo, images, tmp_path / "killed", threads=1, checkpoint_every_s=0)

    whole, resumed = (tmp_path / run / spec.generator_id for run in ("whole", "killed"))
    assert np.array_equal(np.load(resumed / "images.npy"), np.load(whole / "images.npy"))
    record, uninterrupted = (json.loads((d / "record.json").read_text()) for d in (resumed, whole))
    assert record["resumed_at_iterations"] == [6] and "resumed_at_iterations" not in uninterrupted
    assert record["training_steps"] == uninterrupted["training_steps"] == 9
    assert record["final_losses"] == uninterrupted["final_losses"]
    assert not (resumed / "resume.ckpt").exists() and not staging.exists()


# the PixelCNN (the step this is for: 54 minutes of sampling at the zoo's size) takes a minute
@pytest.mark.parametrize("architecture", ["dcgan", pytest.param("pixelcnn", marks=pytest.mark.slow)])
def test_a_build_killed_while_sampling_goes_on_from_its_last_kept_batch_to_the_same_images(
    architecture: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill while sampling costs the batch being drawn, not the training nor the batches
    drawn before it: the next attempt loads the kept weights and draws the rest."""
    recipe = tmp_path / "zoo.yaml"
    recipe.write_text(yaml.safe_dump({**TINY, "images_per_generator": 6}))
    zoo = ZooRecipe.load(recipe)
    spec = next(s for s in zoo.generators() if s.architecture == architecture)
    images = build_training_set(spec.dataset, zoo.resolution)[:24]
    monkeypatch.setattr(zoo_build, "SAMPLE_BATCH", 2)  # 6 images: 3 batches
    train_one(spec, zoo, images, tmp_path / "whole", threads=1)

    save, saved_batches = SamplingProgress.save, []

    def save_then_die_after_two_batches(self, batches, *args) -> None:
        save(self, batches, *args)
        saved_batches.append(len(batches))
        if len(batches) == 2:
            raise _Killed

    with monkeypatch.context() as patch:
        patch.setattr(SamplingProgress, "save", save_then_die_after_two_batches)
        with pytest.raises(_Killed):
            train_one(spec, zoo, images, tmp_path / "killed", threads=1)
        staging = tmp_path / "killed" / f"{spec.generator_id}.tmp"
        assert {"trained.json", "sampled.pt", "weights.pt"} <= {p.name for p in staging.iterdir()}
        patch.setattr(zoo_build, "_train", lambda *args: pytest.fail("trained again"))
        train_one(spec, zoo, images, tmp_path / "killed", threads=1)
    assert saved_batches == [1, 2, 3]  # the resumed attempt drew the third batch only

    whole, resumed = (tmp_path / run / spec.generator_id for run in ("whole", "killed"))
    assert np.array_equal(np.load(resumed / "images.npy"), np.load(whole / "images.npy"))
    record, uninterrupted = (json.loads((d / "record.json").read_text()) for d in (resumed, whole))
    timings = {"train_seconds", "sample_seconds"}
    assert {k: v for k, v in record.items() if k not in timings} == {
        k: v for k, v in uninterrupted.items() if k not in timings
    }
    assert {p.name for p in resumed.iterdir()} == {p.name for p in whole.iterdir()}
    assert not staging.exists()


def test_sampling_progress_of_another_seed_is_not_resumed(tmp_path: Path) -> None:
    model = create_zoo_generator("gan", architecture="dcgan", loss="hinge")
    path = tmp_path / "sampled.pt"
    model.sample(4, seed=1, batch_size=2, progress=SamplingProgress(path, 1, 2))
    progress = SamplingProgress(path, 2, 2)
    assert torch.equal(model.sample(4, seed=2, batch_size=2, progress=progress), model.sample(4, seed=2))
    assert progress.seconds == 0.0


REVISION_1_PLAN = {
    "steps": 6,
    "batch_size": TINY["batch_size"],
    "overrides": {},
    "precision": "32-true",
    "accelerator": "cpu",
    "architecture_revision": 1,
}


@pytest.mark.parametrize(
    ("stored_plan", "revision"),
    [
        ({"steps": 3}, 1),  # another step budget
        (REVISION_1_PLAN, 2),  # a plan for the code the recipe has replaced
        # a plan for a wider network of the same revision (the recipe now has the defaults)
        ({**REVISION_1_PLAN, "network": {"width": 8}}, 1),
    ],
    ids=["steps", "architecture-revision", "network"],
)
def test_a_checkpoint_from_another_plan_is_not_resumed(
    tmp_path: Path, stored_plan: dict[str, object], revision: int
) -> None:
    vae = {**TINY["architectures"]["vae_deconv"], "revision": revision}
    raw = {**TINY, "steps": {**TINY["steps"], "vae": 6}}
    raw["architectures"] = {**TINY["architectures"], "vae_deconv": vae}
    recipe = tmp_path / "zoo.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    zoo = ZooRecipe.load(recipe)
    spec = next(s for s in zoo.generators() if s.generator_id == "vae_deconv-digits-s0")
    staging = tmp_path / f"{spec.generator_id}.tmp"
    staging.mkdir()
    (staging / "resume.ckpt").write_bytes(b"a checkpoint of another plan")
    (staging / "plan.json").write_text(json.dumps(stored_plan))
    images = build_training_set(spec.dataset, zoo.resolution)[:16]
    train_one(spec, zoo, images, tmp_path, threads=1)
    record = json.loads((tmp_path / spec.generator_id / "record.json").read_text())
    assert record["training_steps"] == 6 and "resumed_at_iterations" not in record
    assert record["architecture_revision"] == revision


def test_a_generator_another_build_is_training_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zoo = ZooRecipe({**TINY}, "")
    spec = next(s for s in zoo.generators() if s.generator_id == "vae_deconv-digits-s0")
    staging = tmp_path / f"{spec.generator_id}.tmp"
    staging.mkdir()
    (staging / "resume.ckpt").write_bytes(b"the other build's checkpoint")
    (tmp_path / ".locks").mkdir()
    other_build = FileLock(tmp_path / ".locks" / f"{spec.generator_id}.lock")
    other_build.acquire()
    images = build_training_set(spec.dataset, zoo.resolution)[:16]
    with pytest.raises(GeneratorBusyError, match="another build is training vae_deconv-digits-s0"):
        train_one(spec, zoo, images, tmp_path, threads=1)
    assert (staging / "resume.ckpt").read_bytes() == b"the other build's checkpoint"
    recipe = tmp_path / "zoo.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    both = "--only=[vae_deconv-digits-s0,dcgan-digits-s0]"
    assert main(["zoo", "build", f"--recipe={recipe}", f"--work={tmp_path}", both]) == 2
    assert "another build is training vae_deconv-digits-s0" in capsys.readouterr().err  # told
    assert (tmp_path / "dcgan-digits-s0" / "record.json").exists()  # and the other one trained
    other_build.release()
    train_one(spec, zoo, images, tmp_path, threads=1)  # once it is free, the generator trains
    assert (tmp_path / spec.generator_id / "record.json").exists()


def test_a_record_counts_as_trained_as_planned_only_for_the_recipe_s_plan() -> None:
    recipe = ZooRecipe({**TINY}, "")
    specs = {s.generator_id: s for s in recipe.generators()}
    vae, pixelcnn = specs["vae_deconv-digits-s0"], specs["pixelcnn-digits-s0"]
    # build 1's records lack precision, revision and network: they stand for the defaults
    older = {"training_steps": 2, "batch_size": 8, "overrides": {}, "training_set_hash": "h"}
    assert trained_as_planned(older, vae, recipe, "h")
    assert not trained_as_planned(older, vae, recipe, "another training set")
    assert not trained_as_planned({**older, "training_steps": 5}, vae, recipe, "h")
    assert not trained_as_planned({**older, "network": {"width": 8}}, vae, recipe, "h")
    assert not trained_as_planned({**older, "architecture_revision": 2}, vae, recipe, "h")
    sized = {**older, "training_steps": 1, "network": {"width": 4, "scales": 2}}
    assert trained_as_planned(sized, pixelcnn, recipe, "h")
    assert not trained_as_planned({**sized, "network": {}}, pixelcnn, recipe, "h")
    assert training_plan(pixelcnn, recipe)["network"] == {"width": 4, "scales": 2}


def test_the_recipe_sizes_a_network_and_a_misspelt_setting_is_named() -> None:
    recipe = ZooRecipe({**TINY}, "")
    narrow = create_zoo_generator(
        "autoregressive", architecture="pixelcnn", network=recipe.network("pixelcnn"), resolution=8
    )
    assert narrow.net.out.in_channels == 4 and narrow.net.scales == 2
    assert narrow.hparams.network == {"width": 4, "scales": 2}  # in the shipped hparams.yaml
    with pytest.raises(TypeError, match=r"'pixelcnn'.*widht"):
        create_zoo_generator("autoregressive", architecture="pixelcnn", network={"widht": 4})
    for name in GAN_ARCHITECTURES:  # every generator design takes the settings its class has
        with pytest.raises(TypeError, match=rf"'{name}'.*widht"):
            create_zoo_generator("gan", architecture=name, loss="hinge", network={"widht": 4})
    wide = create_zoo_generator("gan", architecture="residual", loss="hinge", network={"width": 8})
    assert wide.hparams.network == {"width": 8}


def test_a_resumed_training_keeps_the_log_of_its_earlier_attempts(tmp_path: Path) -> None:
    def write(rows: list[tuple[int, float]]) -> None:
        lines = ["loss,step", *(f"{loss},{step}" for step, loss in rows)]
        (tmp_path / "metrics.csv").write_text("\n".join(lines) + "\n")

    write([(25, 1.0), (50, 0.9), (75, 0.8)])  # first attempt: killed at step 80, checkpoint at 60
    set_aside_log(tmp_path, last_step=60)
    write([(75, 0.7), (100, 0.6)])  # second attempt: killed at step 110, checkpoint at 100
    set_aside_log(tmp_path, last_step=100)
    write([(125, 0.5)])  # the last attempt finishes
    join_logs(tmp_path)
    lines = (tmp_path / "metrics.csv").read_text().split()
    assert lines == ["loss,step", "1.0,25", "0.9,50", "0.7,75", "0.6,100", "0.5,125"]
    assert not (tmp_path / "metrics.earlier.csv").exists()


def test_a_rebuild_reuses_the_artifacts_generators_trained_as_the_recipe_says(
    tiny_zoo: dict[str, Path], tmp_path: Path
) -> None:
    """``--reuse``: with an unchanged recipe nothing trains and the artifact comes out with the
    same images; a bumped architecture revision, other network settings or a changed training
    set retrain exactly the generators they touch."""
    out, work = tmp_path / "artifact", tmp_path / "work"
    args = [f"--recipe={tiny_zoo['recipe']}", f"--work={work}", "--threads=1", f"--reuse={tiny_zoo['out']}"]
    assert main(["zoo", "build", *args, f"--out={out}"]) == 0
    assert {json.loads((work / g / "record.json").read_text())["reused_from"] for g in os.listdir(work)} == {
        recorded_data_hash(tiny_zoo["out"])
    }
    for name in ("known_test", "unseen_all"):
        assert torch.equal(load_split(name, out).images, load_split(name, tiny_zoo["out"]).images)

    # an artifact written before records carried the training-set hash: its real images say
    unhashed = tmp_path / "unhashed"
    shutil.copytree(tiny_zoo["out"], unhashed)
    manifest = json.loads((unhashed / "manifest.json").read_text())
    for row in manifest:
        row.pop("training_set_hash", None)
    (unhashed / "manifest.json").write_text(json.dumps(manifest))
    recipe = tmp_path / "zoo.yaml"
    architectures = {
        **TINY["architectures"],
        "pixelshuffle": {"family": "gan", "loss": "hinge", "revision": 2},
        "ddpm_unet": {**TINY["architectures"]["ddpm_unet"], "network": {"widths": [16, 16, 24]}},
    }
    recipe.write_text(yaml.safe_dump({**TINY, "architectures": architectures}))
    sets = tmp_path / "sets.npz"
    save_training_sets(["digits", "shapes"], 32, sets)
    with np.load(sets) as arrays:
        changed = {name: arrays[name] for name in arrays.files}
    faces = build_training_set("faces").numpy()
    np.savez(sets, **changed, faces=255 - faces)  # another faces set
    ids = "[pixelshuffle-digits-s0,vae_deconv-faces-s0,dcgan-digits-s0,ddpm_unet-digits-s0]"
    args = [f"--recipe={recipe}", f"--work={tmp_path / 'work2'}", "--threads=1", f"--training_sets={sets}"]
    assert main(["zoo", "build", *args, f"--reuse={unhashed}", f"--only={ids}"]) == 0
    records = {
        g: json.loads((tmp_path / "work2" / g / "record.json").read_text()) for g in ids[1:-1].split(",")
    }
    assert "reused_from" in records["dcgan-digits-s0"]
    assert "reused_from" not in records["pixelshuffle-digits-s0"]
    assert records["pixelshuffle-digits-s0"]["architecture_revision"] == 2
    assert "reused_from" not in records["ddpm_unet-digits-s0"]
    assert records["ddpm_unet-digits-s0"]["network"] == {"widths": [16, 16, 24]}
    assert "reused_from" not in records["vae_deconv-faces-s0"]
    assert (
        records["vae_deconv-faces-s0"]["training_set_hash"] != records["dcgan-digits-s0"]["training_set_hash"]
    )


def test_each_critic_step_reads_its_own_batch_of_real_images() -> None:
    """WGAN-GP's algorithm 1 samples a real batch for each of its critic steps: with
    ``critic_steps`` 3 the loader hands one iteration three batches, one for each step."""
    model = create_zoo_generator("gan", architecture="dcgan", loss="wgan_gp", critic_steps=3)
    seen: list[torch.Tensor] = []
    critic_loss = model._critic_loss

    def recording_critic_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        seen.append(real.detach().clone())
        return critic_loss(real, fake)

    model._critic_loss = recording_critic_loss  # type: ignore[method-assign]
    images = torch.rand(24, 3, 32, 32) * 2 - 1
    trainer = quiet_trainer(max_steps=model.optimizer_steps_per_iteration, accelerator="cpu")
    trainer.fit(model, DataLoader(TensorDataset(images), batch_size=8 * model.real_batches_per_iteration))
    assert model.iterations == 1
    assert [len(real) for real in seen] == [8, 8, 8]
    assert torch.equal(torch.cat(seen), images)


@pytest.mark.parametrize("architecture", sorted(GAN_ARCHITECTURES))
def test_every_gan_generator_starts_with_samples_that_vary_with_z(architecture: str) -> None:
    """Build 1's style generator drew the same image for every z from its first step (styles of
    std 0.05 around 1: no equalised learning rate, no unit-variance w) and never left it."""
    torch.manual_seed(0)
    generator = GAN_ARCHITECTURES[architecture](32)
    with torch.no_grad():
        images = generator(torch.randn(64, Z_DIM))
    assert images.std(dim=0).mean() > 0.1


def test_a_generator_with_another_image_count_is_not_reused(
    tiny_zoo: dict[str, Path], tmp_path: Path
) -> None:
    recipe = tmp_path / "zoo.yaml"
    recipe.write_text(yaml.safe_dump({**TINY, "images_per_generator": 10}))
    args = [f"--recipe={recipe}", f"--work={tmp_path / 'work'}", "--threads=1", f"--reuse={tiny_zoo['out']}"]
    assert main(["zoo", "build", *args, "--only=[dcgan-digits-s0]"]) == 0
    record = json.loads((tmp_path / "work" / "dcgan-digits-s0" / "record.json").read_text())
    assert "reused_from" not in record
    assert np.load(tmp_path / "work" / "dcgan-digits-s0" / "images.npy").shape[0] == 10


def test_the_pixelcnn_predicts_each_pixel_from_the_image_before_it_and_nothing_after() -> None:
    """Causality of PixelCNN++'s shifted convolutions, strides and upsampling, and the whole
    raster-order past in view except, at full resolution only, what lies beyond the 6-column
    reach in the row above and the row itself (the masked stack it replaced saw 7 rows, and had
    a blind spot to the upper right)."""
    from datamodules.zoo.architectures import PixelCNN

    torch.manual_seed(0)
    size, reach = 16, 6
    net = PixelCNN(size, width=4).double()
    # one copy of the image per pixel: copy k's gradient is pixel k's dependence on the image
    x = torch.randn(1, 3, size, size, dtype=torch.double).repeat(size * size, 1, 1, 1).requires_grad_()
    logits = net(x)
    pixel = torch.arange(size * size)
    logits.flatten(3)[pixel, :, :, pixel].sum().backward()
    for k, grad in enumerate(x.grad):
        i, j = divmod(k, size)
        seen = {divmod(int(p), size) for p in (grad.abs().sum(0) > 0).flatten().nonzero()}
        past = {(r, c) for r in range(size) for c in range(size) if (r, c) < (i, j)}
        near = {(r, c) for r, c in past if r < i - 1 or abs(c - j) <= reach}
        assert near <= seen <= past, (
            f"pixel {(i, j)}: unseen {sorted(near - seen)}, future {sorted(seen - past)}"
        )
    # so sampling may run the network on the rows up to the current one only
    rows = net.row_multiple
    assert torch.allclose(net(x[:1, :, :rows]), logits[:1, ..., :rows, :])


def test_a_vae_samples_from_the_gaussian_fitted_to_its_posterior_means() -> None:
    """Revision 2 of the VAEs: once training ends, the sampling prior is the mean and covariance
    of the training set's posterior means; ``prior: standard`` keeps N(0, I)."""
    images = build_training_set("digits", 32)[:16].float() / 127.5 - 1
    batches = [(images[:8],), (images[8:],)]
    vae = create_zoo_generator("vae", architecture="vae_deconv")
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(vae, DataLoader(TensorDataset(images), batch_size=8))  # on_train_end fits the prior
    assert not torch.equal(vae.prior_scale_tril, torch.eye(Z_DIM))
    vae.fit_prior(batches)
    with torch.no_grad():
        means = vae.encoder(images)[0]
    torch.testing.assert_close(vae.prior_mean, means.mean(0))
    covariance = vae.prior_scale_tril @ vae.prior_scale_tril.T
    torch.testing.assert_close(covariance, torch.cov(means.T) + 1e-4 * torch.eye(Z_DIM), atol=1e-4, rtol=1e-3)
    assert "prior_scale_tril" in vae.state_dict()  # a checkpoint keeps the fitted prior
    standard = create_zoo_generator("vae", architecture="vae_deconv", prior="standard")
    standard.fit_prior = None  # never called: on_train_end leaves N(0, I)
    standard.on_train_end()
    assert torch.equal(standard.prior_scale_tril, torch.eye(Z_DIM))
    with pytest.raises(ValueError, match="unknown VAE prior 'learned'; valid: fitted, standard"):
        create_zoo_generator("vae", architecture="vae_deconv", prior="learned")


def test_icnr_starts_each_sub_pixel_stage_without_a_checkerboard() -> None:
    """With ``icnr`` the four sub-pixels of each output channel come from one kernel, so the
    first stage's output is constant on every 2x2 block; without it (builds 1-4) they differ."""
    for icnr in (True, False):
        torch.manual_seed(0)
        conv, shuffle = PixelShuffleGenerator(32, icnr=icnr).net[3:5]
        with torch.no_grad():
            out = shuffle(conv(torch.randn(2, conv.in_channels, 4, 4)))
        same = torch.equal(out[..., ::2, ::2], out[..., 1::2, 1::2]) and torch.equal(
            out[..., ::2, ::2], out[..., ::2, 1::2]
        )
        assert same == icnr
