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


def _read_into(path: Path, *hashes: Any) -> list[str]:
    """Each hash of one file, read once, a block at a time: weight files run to gigabytes."""
    with Path(path).open("rb") as handle:
        while block := handle.read(1 << 20):
            for digest in hashes:
                digest.update(block)
    return [digest.hexdigest() for digest in hashes]


def file_digest(path: Path) -> str:
    """A short content hash of a weights file: part of a method's feature-cache key."""
    return _read_into(path, hashlib.blake2b(digest_size=8))[0]


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, as a run directory's ``summary.json`` records its weights'."""
    return _read_into(path, hashlib.sha256())[0]


def file_digests(path: Path) -> tuple[str, str]:
    """(:func:`file_digest`, :func:`sha256_file`) of one file, read once."""
    short, full = _read_into(path, hashlib.blake2b(digest_size=8), hashlib.sha256())
    return short, full


def check_weights_digest(directory: Path, weights_file: str) -> None:
    """Refuse weights that do not match the digest their run's ``summary.json`` recorded (a
    shipped checkpoint damaged or swapped); runs recorded without a digest load unchecked."""
    from core.errors import ModelprintError

    summary = Path(directory) / "summary.json"
    recorded = json.loads(summary.read_text()).get("weights_sha256") if summary.is_file() else None
    if recorded and sha256_file(Path(directory) / weights_file) != recorded:
        raise ModelprintError(
            f"{Path(directory) / weights_file} does not match the digest in {summary.name}: damaged or "
            "replaced (restore it, or train again)"
        )
