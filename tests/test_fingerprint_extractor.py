"""The flagship extractor: its loss, its stem, its synthetic-only training, its checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

import tests.fabricated
from benchmarks.provenance import record_training
from core.metrics.attribution import nearest_centroid
from leaderboards.store import ResultsStore
from lightning_modules.synthetic_fingerprint.methods import RealFingerprintMethod, SyntheticFingerprintMethod
from lightning_modules.synthetic_fingerprint.network import FingerprintNet, batch_hard_triplet_loss
from lightning_modules.synthetic_fingerprint.training import (
    WEIGHTS_FILE,
    ExtractorTrainingConfig,
    load_extractor,
    tensors_digest,
    train_extractor,
)
from tests.conftest import run_cli

TINY = Path(__file__).parent / "configs" / "tiny_extractor.yaml"


def test_batch_hard_triplet_loss_matches_a_hand_computation() -> None:
    # unit vectors at angles 0, 60 (model 0) and 90, 180 degrees (model 1); cosine distance = 1 - cos
    angles = torch.tensor([0.0, 60.0, 90.0, 180.0]) * torch.pi / 180
    e = torch.stack([angles.cos(), angles.sin()], dim=1)
    labels = torch.tensor([0, 0, 1, 1])
    # anchor 0: pos d=0.5, nearest neg d(0,90)=1 -> relu(0.5-1+m); anchor 1: pos 0.5, neg d(60,90)=1-cos30
    # anchor 2: pos d(90,180)=1, neg d(90,60)=1-cos30; anchor 3: pos 1, neg d(180,60)=1.5
    m = 0.3
    c30 = torch.cos(torch.tensor(torch.pi / 6))
    expected = torch.stack(
        [
            torch.relu(torch.tensor(0.5 - 1 + m)),
            torch.relu(0.5 - (1 - c30) + m),
            torch.relu(1 - (1 - c30) + m),
            torch.relu(torch.tensor(1 - 1.5 + m)),
        ]
    ).mean()
    assert torch.allclose(batch_hard_triplet_loss(e * 3, labels, m), expected, atol=1e-6)


def test_triplet_loss_without_positives_is_zero_and_differentiable() -> None:
    e = torch.randn(3, 4, requires_grad=True)
    loss = batch_hard_triplet_loss(e, torch.tensor([0, 1, 2]), 0.3)
    loss.backward()
    assert loss.item() == 0 and e.grad is not None


def test_the_stem_keeps_full_resolution_and_bad_names_are_clear_errors() -> None:
    net = FingerprintNet(backbone_args={"channels": [8, 16, 16, 16]}, embedding_dim=16)
    stem_out = net.backbone.act1(net.backbone.bn1(net.backbone.conv1(torch.zeros(1, 3, 32, 32))))
    assert stem_out.shape[-1] == 32 and isinstance(net.backbone.maxpool, torch.nn.Identity)
    assert net.fingerprint(torch.rand(2, 3, 32, 32)).norm(dim=1).allclose(torch.ones(2))
    with pytest.raises(ValueError, match="input_transform"):
        FingerprintNet(input_transform="fft")


def test_the_stacked_input_is_the_spectrum_then_the_pixels() -> None:
    """``spectrum_image``: six channels, the first three exactly the ``spectrum`` input."""
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    kwargs = {"backbone_args": {"channels": [8, 16, 16, 16]}, "embedding_dim": 16, "spectrum_log": True}
    stacked = FingerprintNet(input_transform="spectrum_image", **kwargs)
    spectrum = FingerprintNet(input_transform="spectrum", **kwargs)
    prepared = stacked.prepare(images)
    assert prepared.shape == (2, 6, 32, 32) and stacked.backbone.conv1.in_channels == 6
    assert torch.equal(prepared[:, :3], spectrum.prepare(images)) and torch.equal(prepared[:, 3:], images)
    assert stacked.fingerprint(images).shape == (2, 16)
    toneless = FingerprintNet(input_transform="image", pixels_standardise=True, **kwargs).prepare(images)
    assert toneless.mean(dim=(2, 3)).abs().max() < 1e-5 and toneless.std(dim=(2, 3)).allclose(
        torch.ones(2, 3)
    )
    shifted = FingerprintNet(input_transform="image", pixels_standardise=True, **kwargs).prepare(
        images * 0.5 + 0.2
    )
    assert shifted.allclose(toneless, atol=1e-4), "a change of overall tone leaves the input as it was"


def test_a_spectrum_network_grown_to_the_stacked_input_starts_where_it_was() -> None:
    """``load_grown``: the new pixel channels start at zero, so the grown network's fingerprints
    are the trained one's; another change of input, or any other mismatch, is an error."""
    from lightning_modules.synthetic_fingerprint.network import load_grown

    kwargs = {"backbone_args": {"channels": [8, 16, 16, 16]}, "embedding_dim": 16, "spectrum_log": True}
    trained = FingerprintNet(input_transform="spectrum", **kwargs).eval()
    grown = FingerprintNet(input_transform="spectrum_image", **kwargs).eval()
    load_grown(grown, trained.state_dict(), "spectrum")
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(grown.fingerprint(images), trained.fingerprint(images), atol=1e-5)
    assert grown.backbone.conv1.weight[:, 3:].abs().sum() == 0
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_grown(
            FingerprintNet(input_transform="spectrum", **{**kwargs, "embedding_dim": 8}),
            trained.state_dict(),
            "spectrum",
        )
    with pytest.raises(ValueError, match="trained on input 'image' cannot start one on 'spectrum_image'"):
        load_grown(grown, trained.state_dict(), "image")  # its weights would read the spectrum


class SimulatedKill(Exception):
    pass


class StopAfter(L.Callback):
    """Simulates a killed run: training dies after ``steps`` optimiser steps."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step >= self.steps:
            raise SimulatedKill


def test_training_resumes_after_an_interruption_and_the_checkpoint_round_trips(tmp_path: Path) -> None:
    cfg = ExtractorTrainingConfig.from_yaml(TINY)
    with pytest.raises(SimulatedKill):
        train_extractor(cfg, tmp_path, quiet=True, extra_callbacks=[StopAfter(3)])
    assert (tmp_path / "lightning" / "last.ckpt").exists() and not (tmp_path / "summary.json").exists()
    summary = train_extractor(cfg, tmp_path, quiet=True)
    assert summary["images_seen"] == 96 and summary["steps"] == 8
    # each attempt logs into its own folder: resuming deletes none of the killed attempt's rows
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == ["version_0", "version_1"]
    metrics = (tmp_path / "log" / "version_1" / "metrics.csv").read_text().splitlines()
    steps_logged = {int(line.split(",")[1]) for line in metrics[1:]}
    assert max(steps_logged) == 7 and not (tmp_path / "lightning").exists()

    net = load_extractor(tmp_path)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    assert torch.equal(net.fingerprint(x), load_extractor(tmp_path).fingerprint(x))
    store = ResultsStore(tmp_path / "r.sqlite")
    record_training(cfg, summary, store.path)
    assert {f["metric"] for f in store.figure_rows(protocol="training")} >= {"images_seen", "train_loss"}


@pytest.mark.parametrize("sampling", ["fixed", "fresh"])
def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(
    tmp_path: Path, sampling: str
) -> None:
    """Same data order, same delivered images, same final (and selected) weights, whether the
    run is killed in its first pass or a later one, or at a pass's end (the last checkpoint is
    the step before the kill: 4 batches a pass for fixed sampling, 5 for fresh)."""
    base = ExtractorTrainingConfig.from_yaml(TINY)
    data = {**base.data, "delivery": True, "sampling": sampling, "val_split": "model", "interleave": True}
    cfg = ExtractorTrainingConfig(**{**base.__dict__, "data": data, "image_budget": 120})
    whole = train_extractor(cfg, tmp_path / "whole", quiet=True)
    for kill_at in (3, 7):
        out = tmp_path / f"killed-{kill_at}"
        with pytest.raises(SimulatedKill):
            train_extractor(cfg, out, quiet=True, extra_callbacks=[StopAfter(kill_at)])
        resumed = train_extractor(cfg, out, quiet=True)
        assert resumed["steps"] == whole["steps"] == 10
        assert resumed["selected"] == whole["selected"]
        assert resumed["weights_sha256"] == whole["weights_sha256"], f"killed at step {kill_at}"
        # the shipped weights may be an early step's (the best on validation): the last step's
        # losses and the validation figures say that the steps after the kill were the same too
        assert resumed["metrics"] == whole["metrics"], f"killed at step {kill_at}"


def test_a_run_parked_on_one_machine_resumes_on_a_fresh_one_to_the_same_weights(tmp_path: Path) -> None:
    """The machine that started a run is gone with its cache: the state parked in the repository
    (``extractor park``) carries it on to the same final and selected weights, with the earlier
    attempts' logs; a parking is never replaced by one behind it, nor adopted over a run
    directory further on; a parking under another configuration's key is refused."""
    from lightning_modules.synthetic_fingerprint.parking import CHECKPOINT, adopt, checkpoint_step, park

    base = ExtractorTrainingConfig.from_yaml(TINY)
    data = {**base.data, "val_split": "model", "interleave": True}
    cfg = ExtractorTrainingConfig(**{**base.__dict__, "data": data, "image_budget": 120})
    whole = train_extractor(cfg, tmp_path / "whole", quiet=True)
    first, repository = tmp_path / "first-machine", tmp_path / "in_progress"
    with pytest.raises(SimulatedKill):
        train_extractor(cfg, first, quiet=True, extra_callbacks=[StopAfter(5)], parked=repository)
    with pytest.raises(FileNotFoundError, match="no resumable training state"):
        park(tmp_path / "whole", cfg.key(), repository)  # finished: nothing to carry on
    folder, step = park(first, cfg.key(), repository)
    assert step == 4 and (folder / "lightning" / "best.json").is_file()  # validated at step 4
    with pytest.raises(ValueError, match="already holds step 4"):
        park(first, cfg.key(), repository)  # as far on: the parking stays as it is
    assert adopt(first, cfg.key(), repository) is None, "the run directory is as far on: its own"

    second = tmp_path / "second-machine"
    (second / "log" / "version_0").mkdir(parents=True)  # an attempt of this machine's own
    resumed = train_extractor(cfg, second, quiet=True, parked=repository)
    assert resumed["weights_sha256"] == whole["weights_sha256"] and resumed["selected"] == whole["selected"]
    logs = sorted(p.name for p in (second / "log").iterdir())
    assert logs == ["replaced-0-version_0", "version_0", "version_1"], "the first machine's attempt came"

    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**yaml.safe_load(TINY.read_text()), "seed": 7}))
    refused = run_cli("extractor", "park", f"--training_config={other}", f"--out={first}")
    assert refused.returncode == 2 and "trains another configuration" in refused.stderr
    refused = run_cli("extractor", "park", f"--out={tmp_path / 'whole'}")
    assert refused.returncode == 2 and "no resumable training state" in refused.stderr

    (folder / CHECKPOINT).write_bytes((folder / CHECKPOINT).read_bytes()[:1000])  # a torn copy
    with pytest.raises(ValueError, match="not a readable training checkpoint"):
        checkpoint_step(folder / CHECKPOINT)
    with pytest.raises(ValueError, match=r"delete .* to train without it"):
        adopt(tmp_path / "third-machine", cfg.key(), repository)


def test_missing_and_corrupt_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no trained extractor"):
        load_extractor(tmp_path)
    (tmp_path / "config.yaml").write_text(TINY.read_text())
    (tmp_path / WEIGHTS_FILE).write_bytes(b"\x00" * 20)
    with pytest.raises(ValueError, match="not a valid extractor checkpoint"):
        load_extractor(tmp_path)


class Untouchable:
    """Stands in for the real known splits: any use of them fails the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the synthetic-only extractor read real data ({name})")

    def __len__(self) -> int:
        raise AssertionError("the synthetic-only extractor read real data (len)")


def test_the_flagship_never_sees_a_real_image_even_when_retraining(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPRINT_CACHE", str(tmp_path))
    method = SyntheticFingerprintMethod(retrain=True, training_config=str(TINY))
    info = method.fit_extractor(Untouchable(), Untouchable(), seed=0)
    assert info["training"]["images_seen"] == 96
    assert "retrained" in method.weights_note
    assert json.loads((Path(info["checkpoint"]) / "summary.json").read_text())["num_models"] == 6


def test_the_real_data_control_learns_the_fabricated_traces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPRINT_CACHE", str(tmp_path))
    train, val, test = (
        tests.fabricated.fabricated_split(s) for s in ("known_train", "known_val", "known_test")
    )
    method = RealFingerprintMethod(training_config=str(TINY), epochs=6)
    info = method.fit_extractor(train, val, seed=0)
    assert 0 <= info["best_val_accuracy"] <= 1
    gallery = method.features(train.images.float() / 127.5 - 1)
    queries = method.features(test.images.float() / 127.5 - 1)
    predicted = nearest_centroid(queries, gallery, train.labels)
    accuracy = float((predicted == test.labels).float().mean())
    assert accuracy > 0.5, f"4 generators, chance 0.25; nearest-centroid accuracy {accuracy:.2f}"


def test_an_extractor_trained_on_other_input_photos_is_another_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache key of a trained extractor names its input photo sets' revisions: after a set
    changes (faces, revision 2), an extractor cached from the old set is not reused."""
    from datamodules.zoo import training_sets

    config = ExtractorTrainingConfig(data={"input_sources": ["faces"]})
    before = config.key()
    assert ExtractorTrainingConfig(data={"input_sources": ["photos"]}).key() != before
    monkeypatch.setitem(training_sets.TRAINING_SET_REVISIONS, "faces", 3)
    assert config.key() != before


def test_spectrum_input_and_learned_denoiser_keep_the_input_size() -> None:
    """The paper's input - the FFT magnitude of a learned denoiser's residual - at 32 px."""
    net = FingerprintNet(
        backbone_args={"channels": [8, 8, 8, 8]},
        embedding_dim=8,
        input_transform="spectrum",
        denoiser="dncnn",
    )
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    prepared = net.prepare(images)
    assert prepared.shape == images.shape and (prepared >= 0).all(), "a magnitude spectrum, same size"
    assert net.fingerprint(images).shape == (2, 8)
    assert not any(p.requires_grad for p in net.residual.parameters()), "the denoiser stays frozen"
    with pytest.raises(ValueError, match="unknown denoiser 'dncn'"):
        FingerprintNet(denoiser="dncn")


def test_fresh_sampling_draws_never_seen_images_and_validates_on_held_out_models(tmp_path: Path) -> None:
    """Official sampling: every group a random model and new image indices; the checkpoint is
    chosen on zero-shot identification among held-out synthetic models."""
    cfg = ExtractorTrainingConfig.from_yaml(TINY)
    cfg.data = {**cfg.data, "sampling": "fresh", "val_split": "model", "val_fraction": 0.34, "num_models": 9}
    cfg.image_budget = 48
    summary = train_extractor(cfg, tmp_path / "run", quiet=True)
    assert summary["num_models"] == 6, "3 of 9 models held out for validation"
    assert summary["selected"]["metric"] == "val/zs_identification"
    assert 0 <= summary["metrics"]["val/zs_identification"] <= 1


@pytest.mark.slow
@pytest.mark.parametrize("sampling", ["fresh", "fixed"])
def test_two_process_ddp_training_on_cpu(tmp_path: Path, sampling: str) -> None:
    """The flagship trains on several devices through Lightning's DDP (gloo on CPU here): the
    ranks train on different synthetic models, end with the same weights, and rank 0's are
    the ones saved."""
    from core.hashing import sha256_file

    cfg = yaml.safe_load(TINY.read_text())
    cfg.update(devices=2, strategy="ddp", image_budget=48)
    cfg["data"].update(sampling=sampling, val_fraction=0, num_models=8)
    (tmp_path / "ddp.yaml").write_text(yaml.safe_dump(cfg))
    result = run_cli(
        "extractor", "train", f"--training_config={tmp_path / 'ddp.yaml'}", f"--out={tmp_path / 'run'}"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 48 // 12 and summary["weights_sha256"] == sha256_file(run / WEIGHTS_FILE)
    ranks = [json.loads((run / "ranks" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world_size"] == 2 and r["images"] == 4 * 12 for r in ranks)
    assert not set(ranks[0]["models"]) & set(ranks[1]["models"]), "each rank its own models"
    assert ranks[0]["final_parameters_sha256"] == ranks[1]["final_parameters_sha256"], "DDP kept them in step"
    saved = load_extractor(run).state_dict()
    assert tensors_digest(saved) == ranks[0]["final_weights_sha256"], "the saved weights are rank 0's"


def test_shipped_weights_that_do_not_match_their_digest_are_refused(tmp_path: Path) -> None:
    import shutil

    from core.errors import ModelprintError
    from lightning_modules.denoiser.training import SHIPPED_DENOISER, WEIGHTS_FILE, load_dncnn

    copy = tmp_path / "denoiser"
    shutil.copytree(SHIPPED_DENOISER, copy)
    data = bytearray((copy / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 0xFF
    (copy / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelprintError, match="does not match the digest"):
        load_dncnn(copy)


def test_a_new_checkpoint_makes_the_flagships_cells_stale(tmp_path: Path) -> None:
    """The cell's recorded configuration carries the checkpoint's digests, so replacing the
    shipped weights (same arguments) is a new cell, never a skipped one."""
    import shutil

    from benchmarks.config import BenchmarkConfig
    from benchmarks.plan import Variant, parse_plan
    from benchmarks.protocols import PROTOCOLS
    from lightning_modules.synthetic_fingerprint.methods import SHIPPED_CHECKPOINT

    checkpoint = tmp_path / "ckpt"
    shutil.copytree(SHIPPED_CHECKPOINT, checkpoint)
    cfg = BenchmarkConfig(
        methods=["synthetic_fingerprint"],
        method_args={"synthetic_fingerprint": {"checkpoint": str(checkpoint)}},
    )
    variant = Variant(PROTOCOLS.create("zero_shot"))
    before = parse_plan(cfg).cell("synthetic_fingerprint", variant, 0).config_hash
    (checkpoint / WEIGHTS_FILE).write_bytes((checkpoint / WEIGHTS_FILE).read_bytes() + b"\0")
    assert parse_plan(cfg).cell("synthetic_fingerprint", variant, 0).config_hash != before


def test_the_shipped_checkpoint_is_what_shipped_yaml_trains_on_the_controls_network() -> None:
    """`--retrain` reproduces the shipped checkpoint's config; the controls share its network
    (its layout aside); a checkpoint fine-tuned from another names that start by its weights."""
    from lightning_modules.synthetic_fingerprint.methods import (
        SHIPPED_CHECKPOINT,
        SHIPPED_TRAINING_CONFIG,
        TRAINING_CONFIG,
    )

    shipped = ExtractorTrainingConfig.from_yaml(SHIPPED_CHECKPOINT / "config.yaml")
    assert shipped.key() == ExtractorTrainingConfig.from_yaml(SHIPPED_TRAINING_CONFIG).key()
    layout = {"channels_last"}  # how the weights lie in memory, not what the network is
    network = {k: v for k, v in shipped.net.items() if k not in layout}
    assert network == ExtractorTrainingConfig.from_yaml(TRAINING_CONFIG).net
    summary = json.loads((SHIPPED_CHECKPOINT / "summary.json").read_text())
    assert summary["key"] == shipped.key() and summary["selected"]["metric"] == "val/zs_identification"
    assert load_extractor(SHIPPED_CHECKPOINT).input_transform == "spectrum"


def test_the_real_control_can_be_delivered_and_its_unset_option_keeps_the_shipped_key() -> None:
    from datamodules.synthetic.delivery import DeliveryChain
    from lightning_modules.real_training import DeliveredImages, shuffled_loader, training_key

    hparams = {"epochs": 12, "lr": 2e-3, "retrain": False, "hardware": None}
    assert training_key({**hparams, "delivery": None}, "d", 0) == training_key(hparams, "d", 0)
    assert training_key({**hparams, "delivery": True}, "d", 0) != training_key(hparams, "d", 0)
    split = tests.fabricated.fabricated_split("known_train")
    images = DeliveredImages(split, DeliveryChain({"noise": {"probability": 1.0, "range": [4, 4]}}))
    first, label = images[0]
    again, _ = images[0]  # a second draw of the same image: delivered afresh
    assert label == split.labels[0] and first.shape == split.images[0].shape
    assert float(first.min()) >= -1 and float(first.max()) <= 1 and not torch.equal(first, again)
    replay = DeliveredImages(split, DeliveryChain({"noise": {"probability": 1.0, "range": [4, 4]}}))
    assert torch.equal(replay[0][0], first)  # the same draws in every run
    # supervised_cnn's loader takes the same switch
    assert isinstance(shuffled_loader(split, 8, 0, {}, delivery=True).dataset, DeliveredImages)
    assert not isinstance(shuffled_loader(split, 8, 0, {}).dataset, DeliveredImages)


def test_a_training_can_start_from_a_trained_extractor_named_by_its_weights(tmp_path: Path) -> None:
    base = ExtractorTrainingConfig.from_yaml(TINY)
    cfg = ExtractorTrainingConfig(**{**base.__dict__, "image_budget": 24})
    train_extractor(cfg, tmp_path / "start", quiet=True)
    tuned = ExtractorTrainingConfig(**{**cfg.__dict__, "init_weights": str(tmp_path / "start")})
    assert tuned.key() != cfg.key()
    moved = ExtractorTrainingConfig(**{**tuned.__dict__, "init_weights": str(tmp_path / "copy")})
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / WEIGHTS_FILE).write_bytes((tmp_path / "start" / WEIGHTS_FILE).read_bytes())
    assert moved.key() == tuned.key()  # the start is named by its weights, not by where it lies
    summary = train_extractor(tuned, tmp_path / "tuned", quiet=True)
    assert summary["steps"] == 2
    assert train_extractor(moved, tmp_path / "moved", quiet=True)["steps"] == 2  # weights alone: as ours
    stacked = {**tuned.net, "input_transform": "spectrum_image"}  # the start read the residual
    with pytest.raises(ValueError, match="trained on input 'residual' cannot start one on 'spectrum_image'"):
        train_extractor(
            ExtractorTrainingConfig(**{**tuned.__dict__, "net": stacked}), tmp_path / "x", quiet=True
        )
    missing = ExtractorTrainingConfig(**{**cfg.__dict__, "init_weights": "no-such-run"})
    with pytest.raises(FileNotFoundError, match="init_weights: no trained extractor"):
        missing.key()
