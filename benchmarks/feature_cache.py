"""On-disk cache of a method's features per (method key, data hash, split, transform).

A second protocol, a re-run, or a sweep over a probe's hyper-parameters reads features
from here instead of running a backbone again. Files are written atomically (temp file +
rename) and read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from core.paths import cache_dir


def feature_key(method_key: str, data_hash: str, split: str, transform: str = "none") -> str:
    """``method_key`` names the feature extractor alone (class, backbone config, weights), not the
    registry name or head: two methods on one backbone (a probe and a k-NN) share features."""
    text = "|".join((method_key, data_hash, split, transform))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class FeatureCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_dir() / "features"
        self.hits = self.misses = 0

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    def load(self, key: str) -> dict[str, torch.Tensor] | None:
        path = self.path(key)
        if not path.exists():
            self.misses += 1
            return None
        try:
            value = torch.load(path, weights_only=True)
        except Exception:  # a truncated or foreign file is a miss, never a crash
            self.misses += 1
            return None
        self.hits += 1
        return value

    def save(self, key: str, value: dict[str, torch.Tensor]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.path(key).with_suffix(f".tmp{os.getpid()}")
        torch.save(value, tmp)
        tmp.replace(self.path(key))
