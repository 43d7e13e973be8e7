"""Stable short hashes: of configs (run keys, cache keys) and of weight files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def config_hash(config: dict[str, Any]) -> str:
    """A short, stable hash of a JSON-serialisable config (key order does not matter)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def file_digest(path: Path) -> str:
    """A short content hash of a weights file: part of a method's feature-cache key."""
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=8).hexdigest()
