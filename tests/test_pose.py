"""POSE (Yang et al., CVPR 2023): each loss term, the progressive schedule, and the open-set gain
over its own classifier trained without augmentation models."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from torch.utils.data import DataLoader
from torchmetrics.functional.classification import binary_auroc

import tests.fabricated
from core.paths import config_file
from core.quiet_trainer import quiet_trainer
from lightning_modules import METHODS
from lightning_modules.pose import (
    AugmentationModel,
    POSEMethod,
    diversity_loss,
    open_space_loss,
    reconstruction_loss,
    running_statistics_kept,
)
from lightning_modules.real_training import labelled_tensors
from lightning_modules.synthetic_fingerprint.network import FingerprintNet
from tests.tiny_methods import TINY_POSE_NET

TINY_NET = TINY_POSE_NET


def test_diversity_term_is_largest_when_an_augmenter_copies_an_earlier_one() -> None:
    torch.manual_seed(0)
    net, images = FingerprintNet(**TINY_NET).eval(), torch.rand(8, 3, 32, 32) * 2 - 1
    first, second = AugmentationModel(), AugmentationModel()
    with torch.no_grad():
        different = diversity_loss(net(second(images)), [net(first(images))])
        second.load_state_dict(first.state_dict())
        identical = diversity_loss(net(second(images)), [net(first(images))])
    assert identical == pytest.approx(1.0, abs=1e-5)
    assert identical > different
    assert diversity_loss(net(images), []) == 0  # the first augmenter has nothing to differ from


def test_open_space_and_reconstruction_terms() -> None:
    logits = torch.zeros(4, 5)
    pushed = logits.clone()
    pushed[:, -1] = 3.0  # more mass on the open-space class (the last one)
    assert open_space_loss(pushed) < open_space_loss(logits)
    images = torch.rand(2, 3, 8, 8)
    assert reconstruction_loss(images, images) == 0
    assert reconstruction_loss(images + 0.1, images) == pytest.approx(0.1, abs=1e-6)


def test_the_diversity_step_leaves_the_task_model_s_batchnorm_statistics_alone() -> None:
    torch.manual_seed(0)
    net = FingerprintNet(**TINY_NET).train()

    def statistics() -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in net.state_dict().items() if "running_" in k}

    before = statistics()
    assert before, "the tiny task model has BatchNorm layers"
    with running_statistics_kept(net):
        net(torch.rand(8, 3, 32, 32) * 2 - 1)
    assert net.training  # its mode is restored
    assert all(torch.equal(before[k], v) for k, v in statistics().items())
    net(torch.rand(8, 3, 32, 32) * 2 - 1)  # a task-model training pass does update them
    assert any(not torch.equal(before[k], v) for k, v in statistics().items())


class AugmenterSnapshots(L.Callback):
    """The number of active augmenters and every augmenter's weights at each epoch's end."""

    def __init__(self) -> None:
        self.active: list[int] = []
        self.weights: list[list[torch.Tensor]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: POSEMethod) -> None:
        self.active.append(module.active_augmenters(trainer.current_epoch))
        self.weights.append([a.layers[0].weight.detach().clone() for a in module.augmenters])


def test_augmentation_models_are_added_one_at_a_time_and_only_the_newest_trains() -> None:
    split = tests.fabricated.fabricated_split("known_train")
    method = POSEMethod(
        net=TINY_NET, num_augmenters=3, epochs=4, warmup_epochs=1, epochs_per_augmenter=1, batch_size=30
    )
    method.build(len(split.generator_ids), seed=0)
    initial = [a.layers[0].weight.detach().clone() for a in method.augmenters]
    snapshots = AugmenterSnapshots()
    trainer = quiet_trainer(max_epochs=4, callbacks=[snapshots])
    trainer.fit(method, DataLoader(labelled_tensors(split), batch_size=30, shuffle=True))
    assert snapshots.active == [0, 1, 2, 3]
    history = [initial, *snapshots.weights]  # history[e + 1]: after epoch e
    for m in range(3):
        trains_in = 1 + m  # augmenter m is the newest during epoch 1 + m
        for epoch in range(4):
            changed = not torch.equal(history[epoch][m], history[epoch + 1][m])
            assert changed == (epoch == trains_in), f"augmenter {m}, epoch {epoch}"


@pytest.mark.parametrize("name", ["pose_no_diversity", "pose_no_augmentation"])
def test_an_ablation_is_declared_once_in_its_yaml(name: str) -> None:
    """Its YAML is pose.yaml plus the one argument it changes; its class only registers the name
    (a class of its own keeps the method key) and takes pose's constructor and defaults as they are."""
    args = yaml.safe_load(config_file("methods", f"{name}.yaml").read_text())
    assert args.pop("base_config") == "pose.yaml"
    assert len(args) == 1, args
    registered = METHODS.entry(name).factory
    assert isinstance(registered, type) and registered.__bases__ == (POSEMethod,)
    assert "__init__" not in vars(registered)


def test_a_schedule_that_does_not_fit_is_an_error() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        POSEMethod(num_augmenters=3, epochs=4, warmup_epochs=2, epochs_per_augmenter=2)


@pytest.mark.slow
def test_pose_rejects_unseen_generators_better_than_its_classifier_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPRINT_CACHE", str(tmp_path))
    train, val, test, unseen = (
        tests.fabricated.fabricated_split(s) for s in ("known_train", "known_val", "known_test", "unseen_all")
    )
    schedule = {"epochs": 5, "warmup_epochs": 1, "epochs_per_augmenter": 2, "batch_size": 20}
    aurocs = {}
    for label, augmenters in (("pose", 2), ("classifier alone", 0)):
        method = POSEMethod(net=TINY_NET, num_augmenters=augmenters, **schedule)
        method.fit_extractor(train, val, seed=0)
        known, other = (method.features(s.images.float() / 127.5 - 1) for s in (test, unseen))
        scores = torch.cat([method.open_set_score(known), method.open_set_score(other)])
        is_known = torch.cat([torch.ones(len(known)), torch.zeros(len(other))]).long()
        aurocs[label] = float(binary_auroc(scores, is_known))
    assert aurocs["pose"] > aurocs["classifier alone"] + 0.1, aurocs
