"""The baselines (CLIP features, supervised CNN, noise residual) learn something on the
fabricated split, and CLIP's weights are found where they should be - or flagged as random."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import tests.fabricated
from benchmarks.cli import main
from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.plan import parse_plan
from benchmarks.runner import run_benchmark
from core.errors import ConfigError, MissingWeightsError
from leaderboards.render import to_markdown
from leaderboards.store import ResultsStore
from leaderboards.tables import build_tables
from lightning_modules import METHODS
from lightning_modules.base import AttributionMethod, Features
from lightning_modules.clip_features import ClipFeaturesMethod, cached_hub_weights
from lightning_modules.heads import CosineKNN, LinearProbe
from lightning_modules.method_config import method_args
from tests.tiny_methods import TEST_ARGS, TINY_CLIP

BASELINES = ["clip_features", "clip_features_knn", "supervised_cnn", "noise_residual"]


def split_features(method: AttributionMethod, split: str) -> Features:
    data = tests.fabricated.fabricated_split(split)
    return Features(split, method.features(data.images.float() / 127.5 - 1), data.labels, data.generator_ids)


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_attributes_known_and_unseen_generators_above_chance(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPRINT_CACHE", str(tmp_path))
    torch.manual_seed(0)
    method = METHODS.create(name, **method_args(name, TEST_ARGS.get(name)))
    train, val = (tests.fabricated.fabricated_split(s) for s in ("known_train", "known_val"))
    method.fit_extractor(train, val, seed=0)
    known = {s: split_features(method, s) for s in ("known_train", "known_val", "known_test")}
    method.fit_head(known["known_train"], known["known_val"], seed=0)
    test = known["known_test"]
    closed = float((method.logits(test.values).argmax(1) == test.labels).float().mean())
    assert closed > 0.6, f"{name}: closed-set accuracy {closed:.2f} (4 generators, chance 0.25)"

    # zero shot on the 4 unseen generators: nearest centroid of 10 references each, by cosine
    unseen = split_features(method, "unseen_all")
    embedded = torch.nn.functional.normalize(method.embed(unseen.values), dim=1)
    per_model = [torch.nonzero(unseen.labels == c).flatten() for c in range(len(unseen.generator_ids))]
    centroids = torch.stack([embedded[idx[:10]].mean(0) for idx in per_model])
    queries = torch.cat([idx[10:] for idx in per_model])
    accuracy = float(((embedded[queries] @ centroids.T).argmax(1) == unseen.labels[queries]).float().mean())
    assert accuracy > 0.45, f"{name}: zero-shot identification {accuracy:.2f} (chance 0.25)"


def test_knn_head_votes_by_similarity_and_picks_k_on_validation() -> None:
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    knn = CosineKNN(k_grid=(1, 3))
    info = knn.fit(bank, torch.tensor([0, 0, 1]), torch.tensor([[0.1, 1.0]]), torch.tensor([1]))
    assert info["knn_k"] == 1  # k=3 would let the two class-0 neighbours outvote
    assert knn.logits(torch.tensor([[1.0, 0.05]])).argmax(1).item() == 0
    far, near = knn.best_similarity(torch.tensor([[-1.0, -1.0], [1.0, 0.0]]))
    assert near > far


def test_the_probe_s_warm_started_path_fits_what_cold_fits_do_and_says_if_it_converged() -> None:
    """Each C of the grid starts from the last one's solution: where the fits converge, the
    chosen model predicts what a fit from scratch at that C predicts."""
    from sklearn.linear_model import LogisticRegression

    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=gen) * 2
    labels = torch.arange(3).repeat_interleave(40)
    x = centres[labels] + torch.randn(120, 8, generator=gen)
    train, val = torch.arange(120) % 4 != 0, torch.arange(120) % 4 == 0
    probe = LinearProbe(c_grid=(10.0, 0.01, 1.0))  # any order: fitted ascending
    info = probe.fit(x[train], labels[train], x[val], labels[val])
    assert info["probe_converged"] and 0 < info["probe_iterations"] < probe.max_iter
    cold = LogisticRegression(C=info["probe_C"], max_iter=2000).fit(
        probe.standardise(x[train]).numpy(), labels[train].numpy()
    )
    assert (probe.logits(x).argmax(1).numpy() == cold.predict(probe.standardise(x).numpy())).all()

    info = LinearProbe(max_iter=2).fit(x[train], labels[train], x[val], labels[val])
    assert not info["probe_converged"] and info["probe_iterations"] == 2


def test_clip_without_weights_runs_random_and_the_board_says_so(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    cfg = BenchmarkConfig(
        methods=["clip_features"],
        protocols=["closed_set"],
        dataset="fabricated",
        bootstrap_samples=10,
        method_args={"clip_features": TINY_CLIP},
    )
    run_benchmark(cfg, store, FeatureCache(tmp_path / "cache"))
    board = to_markdown(build_tables(store))
    row = next(line for line in board.splitlines() if line.startswith("| clip_features |"))
    assert "RANDOM INIT" in row


def tiny_clip_state(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    from safetensors.torch import save_file

    torch.manual_seed(123)
    donor = ClipFeaturesMethod(**TINY_CLIP, init_seed=123)
    state = {k: v.clone().contiguous() for k, v in donor.encoder.vit.state_dict().items()}
    for value in state.values():  # unmistakably not the default random init
        value.add_(0.5)
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    return path, state


def test_clip_loads_a_local_weights_file_and_labels_it(tmp_path: Path) -> None:
    path, state = tiny_clip_state(tmp_path)
    method = ClipFeaturesMethod(**{**TINY_CLIP, "random_init": False}, weights_path=str(path))
    assert method.weights_note.startswith("pretrained")
    loaded = method.encoder.vit.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    assert method.method_key() != ClipFeaturesMethod(**TINY_CLIP).method_key()


def test_clip_finds_weights_in_the_hugging_face_cache(tmp_path: Path) -> None:
    path, _ = tiny_clip_state(tmp_path)
    model = "vit_base_patch32_clip_quickgelu_224.openai"
    repo = tmp_path / "hub" / "models--timm--vit_base_patch32_clip_224.openai"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    path.rename(repo / "snapshots" / "abc123" / "model.safetensors")
    found = cached_hub_weights(model, cache_dir=tmp_path / "hub")
    assert found is not None and found.name == "model.safetensors"
    assert cached_hub_weights(model, cache_dir=tmp_path / "empty") is None


def test_clip_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no weights file"):
        ClipFeaturesMethod(
            **{**TINY_CLIP, "random_init": False}, weights_path=str(tmp_path / "missing.safetensors")
        )
    with pytest.raises(ConfigError, match="contradict"):
        ClipFeaturesMethod(**TINY_CLIP, weights_path=str(tmp_path / "missing.safetensors"))
    (tmp_path / "other.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="unknown head"):
        ClipFeaturesMethod(**TINY_CLIP, head="svm")
    with pytest.raises(ValueError, match="blocks must be"):
        ClipFeaturesMethod(**TINY_CLIP, blocks=[7])
    with pytest.raises(ValueError, match="not a ViT"):
        ClipFeaturesMethod(model="resnet18", image_size=32)


def test_clip_without_weights_offline_is_left_out_of_an_all_methods_run_and_an_error_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    reason = ClipFeaturesMethod.unavailable(method_args("clip_features"))
    assert reason is not None and "modelprint weights fetch" in reason and "random_init: true" in reason
    assert main(["weights", "fetch", "--methods=[clip_features]"]) == 2  # one line, says how
    assert ClipFeaturesMethod.unavailable({**method_args("clip_features"), "random_init": True}) is None
    every = parse_plan(BenchmarkConfig(protocols=["closed_set"], dataset="fabricated", bootstrap_samples=0))
    assert "spectral" in every.methods and "clip_features" not in every.methods
    assert [n for n in every.notes if n.startswith("left out clip_features:")]
    named = parse_plan(BenchmarkConfig(methods=["clip_features"], dataset="fabricated"))
    assert list(named.methods) == ["clip_features"] and named.notes == []  # named: it will say why
    with pytest.raises(MissingWeightsError, match="modelprint weights fetch"):
        ClipFeaturesMethod(**{**TINY_CLIP, "random_init": False})


def test_shipped_weights_are_loaded_when_they_match_and_retrain_trains_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lightning_modules.real_training as real_training

    monkeypatch.setenv("MODELPRINT_CACHE", str(tmp_path / "first"))
    cfg = BenchmarkConfig(
        methods=["supervised_cnn"],
        protocols=["closed_set"],
        dataset="fabricated",
        bootstrap_samples=0,
        method_args={"supervised_cnn": {**TEST_ARGS["supervised_cnn"], "epochs": 1}},
    )
    run_benchmark(cfg, ResultsStore(tmp_path / "a.sqlite"), FeatureCache(tmp_path / "f1"))
    (trained,) = (tmp_path / "first" / "supervised-cnn").iterdir()
    shipped = tmp_path / "shipped"
    shutil.copytree(trained, shipped / "supervised-cnn" / trained.name)
    monkeypatch.setattr(real_training, "SHIPPED_WEIGHTS", shipped)
    monkeypatch.setenv("MODELPRINT_CACHE", str(tmp_path / "second"))
    store = ResultsStore(tmp_path / "b.sqlite")
    run_benchmark(cfg, store, FeatureCache(tmp_path / "f2"))
    assert not (tmp_path / "second" / "supervised-cnn").exists()  # nothing trained
    (run,) = store.runs(protocol="closed_set")
    assert "shipped weights" in json.loads(run["details_json"])["weights"]
    retrain = BenchmarkConfig(**{**cfg.__dict__, "retrain": True})
    run_benchmark(retrain, store, FeatureCache(tmp_path / "f3"))
    assert (tmp_path / "second" / "supervised-cnn" / trained.name / "summary.json").exists()
