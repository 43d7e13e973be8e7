"""``dinov2_features`` (and what it shares with ``clip_features``): weights found where they
should be, their digest recorded, a tiny random-init ViT labelled as the control it is, and
left out of an offline run of every method with one line; the workflow fetches the weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from benchmarks.cli import main
from benchmarks.config import BenchmarkConfig
from benchmarks.plan import parse_plan
from core.errors import ConfigError, MissingWeightsError
from core.hashing import file_digest
from lightning_modules import METHODS
from lightning_modules.clip_features import ClipFeaturesMethod
from lightning_modules.dinov2_features import Dinov2FeaturesMethod
from lightning_modules.method_config import method_args
from tests.tiny_methods import TINY_DINOV2

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "leaderboard.yml"


def tiny(**overrides: Any) -> Dinov2FeaturesMethod:
    return Dinov2FeaturesMethod(**method_args("dinov2_features", {**TINY_DINOV2, **overrides}))


def saved_state(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """A tiny DINOv2's weights, shifted off any random init, as a local safetensors file."""
    from safetensors.torch import save_file

    state = {k: v.clone().contiguous() + 0.5 for k, v in tiny(init_seed=7).encoder.vit.state_dict().items()}
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    return path, state


def test_random_init_is_the_labelled_control_with_the_chosen_tokens() -> None:
    method = tiny()
    assert "RANDOM INIT" in method.weights_note and "DINOv2" in method.weights_note
    assert method.encoder.indices == [0, 1, 2, 3]  # the YAML's last four blocks
    images = torch.rand(5, 3, 32, 32) * 2 - 1
    assert method.features(images).shape == (5, 4 * 48)
    assert tiny(patch_mean=True).features(images).shape == (5, 2 * 4 * 48)
    assert tiny(blocks=[-1]).features(images).shape == (5, 48)
    assert Dinov2FeaturesMethod.input_files({**TINY_DINOV2}) == {}  # no weights: the key is untouched
    assert tiny().method_key() == tiny().method_key() != tiny(patch_mean=True).method_key()
    assert tiny().method_key() == tiny(head="knn").method_key()  # both heads share features


def test_a_local_weights_file_is_loaded_at_another_input_size_and_its_digest_recorded(
    tmp_path: Path,
) -> None:
    path, state = saved_state(tmp_path)
    args = {**TINY_DINOV2, "random_init": False, "weights_path": str(path)}
    method = tiny(random_init=False, weights_path=str(path))
    loaded = method.encoder.vit.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    digest = file_digest(path)
    assert method.weights_note == f"pretrained (model.safetensors, digest {digest})"
    assert Dinov2FeaturesMethod.input_files(args) == {"weights": digest}  # in every cell's config
    assert method.method_key() != tiny().method_key()
    # made at 32 px (4 x 4 patches), read at 48 px (6 x 6): the position embedding is resampled
    wider = tiny(
        random_init=False,
        weights_path=str(path),
        image_size=48,
        model_args={**TINY_DINOV2["model_args"], "img_size": 48},
    )
    assert wider.encoder.vit.pos_embed.shape[1] == 36 + 1
    assert wider.features(torch.zeros(2, 3, 32, 32)).shape == (2, 4 * 48)


def test_weights_errors_are_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(MissingWeightsError, match="no weights file"):
        tiny(random_init=False, weights_path=str(tmp_path / "missing.safetensors"))
    with pytest.raises(ConfigError, match="contradict"):
        tiny(weights_path=str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="unknown head"):
        tiny(head="svm")
    with pytest.raises(ValueError, match="blocks must be"):
        tiny(blocks=[4])


def test_offline_without_weights_it_is_left_out_of_every_method_and_an_error_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty"))  # none cached
    reason = Dinov2FeaturesMethod.unavailable(method_args("dinov2_features"))
    assert reason is not None and "\n" not in reason
    assert "modelprint weights fetch" in reason and "{dinov2_features: {random_init: true}}" in reason
    assert Dinov2FeaturesMethod.unavailable({**method_args("dinov2_features"), "random_init": True}) is None
    every = parse_plan(BenchmarkConfig(protocols=["closed_set"], bootstrap_samples=0))
    assert "dinov2_features" not in every.methods and "spectral" in every.methods
    assert len([n for n in every.notes if n.startswith("left out dinov2_features:")]) == 1
    knn = [n for n in every.notes if n.startswith("left out clip_features_knn:")]
    assert knn and "{clip_features_knn: {random_init: true}}" in knn[0]  # its own name
    named = parse_plan(BenchmarkConfig(methods=["dinov2_features"], protocols=["closed_set"]))
    assert list(named.methods) == ["dinov2_features"]  # named: building it says why
    with pytest.raises(MissingWeightsError, match="modelprint weights fetch"):
        Dinov2FeaturesMethod(**{**method_args("dinov2_features"), "random_init": False})
    assert main(["weights", "fetch", "--methods=[dinov2_features]"]) == 2  # one line, says how


def test_clip_and_dinov2_share_one_implementation() -> None:
    """The weights rules live once (frozen_vit.py): the two differ in backbone and name only."""
    assert METHODS.entry("dinov2_features").factory.fetch_weights.__func__ is (
        ClipFeaturesMethod.fetch_weights.__func__
    )
    assert Dinov2FeaturesMethod.default_model.startswith("vit_small_patch14_dinov2.")


def test_the_leaderboard_job_fetches_weights_online_and_tests_offline() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["benchmark"]
    assert "HF_HUB_OFFLINE" not in job.get("env", {}), "the Hub must be on where the board is made"
    steps = {step.get("name", ""): step for step in job["steps"]}
    runs = [step.get("run", "") for step in job["steps"]]
    fetch = next(i for i, run in enumerate(runs) if "modelprint weights fetch" in run)
    bench = next(i for i, run in enumerate(runs) if "scripts/bench.sh" in run)
    tests = next(i for i, run in enumerate(runs) if "scripts/test.sh" in run)
    assert fetch < bench, "weights are fetched (and their digests logged) before the benchmark"
    assert job["steps"][tests].get("env", {}).get("HF_HUB_OFFLINE") == "1"
    cached = [s for s in steps.values() if "huggingface" in str(s.get("with", {}).get("path", ""))]
    assert cached and "model" in cached[0]["with"]["key"]
