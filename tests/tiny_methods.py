"""Tiny configurations of the methods, so tests build and train them in seconds."""

from __future__ import annotations

from pathlib import Path

TINY_EXTRACTOR = str(Path(__file__).parent / "configs" / "tiny_extractor.yaml")
TINY_VIT = {"img_size": 32, "patch_size": 8, "embed_dim": 48, "depth": 3, "num_heads": 3}
TINY_CLIP = {"image_size": 32, "model_args": TINY_VIT, "random_init": True}  # no weights offline
#: a 4-block ViT at 32 px (the YAML's last four blocks exist); random weights, labelled so
TINY_DINOV2 = {
    "image_size": 32,
    "model_args": {"patch_size": 8, "embed_dim": 48, "depth": 4, "num_heads": 3},
    "random_init": True,
}
TINY_CNN = {
    "backbone_args": {"channels": [8, 16, 32, 64]},
    "stem_stride": 2,
    "epochs": 8,
    "batch_size": 20,
    "lr": 3e-3,
}
TINY_POSE_NET = {
    "backbone_args": {"channels": [8, 16, 32, 64]},
    "stem_stride": 2,
    "input_transform": "image",
    "embedding_dim": 32,
}
TINY_POSE = {
    "net": TINY_POSE_NET,
    "epochs": 2,
    "warmup_epochs": 1,
    "epochs_per_augmenter": 1,
    "batch_size": 30,
}

#: constructor overrides per method (on top of its YAML)
TEST_ARGS: dict[str, dict] = {
    "fingerprint_random": {"training_config": TINY_EXTRACTOR},
    "fingerprint_real": {"training_config": TINY_EXTRACTOR, "epochs": 2},
    "clip_features": TINY_CLIP,
    "clip_features_knn": TINY_CLIP,
    "dinov2_features": TINY_DINOV2,
    "supervised_cnn": TINY_CNN,
    "pose": {**TINY_POSE, "num_augmenters": 1},
    "pose_no_diversity": {**TINY_POSE, "num_augmenters": 1},
    "pose_no_augmentation": TINY_POSE,
}
