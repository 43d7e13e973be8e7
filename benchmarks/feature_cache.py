"""On-disk cache of a method's features per (method key, data hash, split, transform).

A second protocol, a re-run, or a sweep over a probe's hyper-parameters reads features
from here instead of running a backbone again. A cache entry is only ever a shortcut, never a
source of truth: each file records what it holds (method key, data hash, split, transform, row
count, a hash of the array's bytes), and an entry that cannot be read, or says it is something
other than what was asked, or whose array does not match its own hash, is reported once,
deleted and recomputed - a swapped, truncated or foreign file can cost time, never a figure.
Files are written atomically (temp file + rename) and read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from core.paths import cache_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureEntry:
    """What one cache entry holds. ``method_key`` names the feature extractor alone (class,
    backbone config, weights), not the registry name or head: two methods on one backbone (a
    probe and a k-NN) share features."""

    method_key: str
    data_hash: str
    split: str
    transform: str = "none"

    @property
    def key(self) -> str:
        text = "|".join((self.method_key, self.data_hash, self.split, self.transform))
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def content_hash(features: torch.Tensor) -> str:
    """A hash of the array's dtype, shape and bytes (read in place: no copy of the features)."""
    array = features.detach().cpu().contiguous()
    digest = hashlib.sha256(f"{array.dtype}|{tuple(array.shape)}|".encode())
    digest.update(array.view(torch.uint8).numpy().reshape(-1) if array.numel() else b"")
    return digest.hexdigest()


class FeatureCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir() / "features"
        self.hits = self.misses = 0
        #: entries found bad and deleted: "file: why", one per entry
        self.rejected: list[str] = []
        #: a write failed (warned once): the run goes on computing features
        self.unwritable = False

    def path(self, entry: FeatureEntry) -> Path:
        return self.root / f"{entry.key}.pt"

    def load(self, entry: FeatureEntry, rows: int) -> torch.Tensor | None:
        """The features of ``entry`` (``rows`` x dim), or None when absent or not trustworthy."""
        path = self.path(entry)
        if not path.exists():
            self.misses += 1
            return None
        problem = self._problem(path, entry, rows)
        if isinstance(problem, str):
            self.misses += 1
            self.rejected.append(f"{path}: {problem}")
            log.warning("feature cache entry %s %s; deleted, recomputing", path, problem)
            path.unlink(missing_ok=True)
            return None
        self.hits += 1
        return problem

    @staticmethod
    def _problem(path: Path, entry: FeatureEntry, rows: int) -> torch.Tensor | str:
        """The entry's features if it is what was asked for, else why not."""
        try:
            value = torch.load(path, weights_only=True)
        except Exception as error:  # truncated, empty, not a torch file, unsafe content
            return f"is unreadable ({type(error).__name__})"
        if not isinstance(value, dict) or not isinstance(value.get("features"), torch.Tensor):
            return "holds no feature array"
        features, recorded = value["features"], value.get("entry")
        if recorded != asdict(entry):
            return f"records {recorded!r}, not {asdict(entry)!r}"
        if features.ndim != 2 or features.shape[0] != rows:
            return f"has shape {tuple(features.shape)}, expected {rows} rows"
        if value.get("content_hash") != content_hash(features):
            return "does not match its own content hash"
        return features

    def save(self, entry: FeatureEntry, features: torch.Tensor) -> None:
        """Write an entry; one that cannot be written (a full disk, a cache path that is a
        file) is a warning, never the run's end - the cache is only a shortcut - and leaves no
        temp file behind."""
        record = {"features": features, "entry": asdict(entry), "content_hash": content_hash(features)}
        tmp: Path | None = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            path = self.path(entry)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            torch.save(record, tmp)
            tmp.replace(path)
        except OSError as error:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            if not self.unwritable:
                log.warning("feature cache %s not written (%s); the run goes on without it", self.root, error)
            self.unwritable = True
