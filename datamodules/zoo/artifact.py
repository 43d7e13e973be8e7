"""The shipped zoo artifact: where it is, its data hash, and loading it with ``datasets``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from core.errors import ModelprintError

ARTIFACT_DIR = Path(__file__).with_name("artifact")
TIMING_FIELDS = ("train_seconds", "sample_seconds")


class MissingArtifactError(ModelprintError, FileNotFoundError):
    """The zoo artifact is not where it should be; the message says how to build it."""


def require_artifact(root: str | Path = ARTIFACT_DIR) -> Path:
    root = Path(root)
    missing = [
        name for name in ("images.parquet", "manifest.json", "data_hash.txt") if not (root / name).exists()
    ]
    if missing:
        raise MissingArtifactError(
            f"zoo artifact at {root} is missing {', '.join(missing)}; build it with `modelprint zoo build`"
        )
    return root


def compute_data_hash(root: str | Path) -> str:
    """SHA-256 over every image's (generator, index, PNG bytes) and the canonical manifest.

    Computed from the decoded table rather than the parquet file's bytes, so the hash does
    not change with the writer's version or compression settings; the manifest's wall-clock
    timings are left out, since a rebuild reproduces the data, not the seconds it took.
    """
    import pyarrow.parquet as pq

    root = Path(root)
    table = pq.read_table(root / "images.parquet", columns=["generator_id", "image_index", "image"])
    rows = sorted(
        zip(
            table["generator_id"].to_pylist(),
            table["image_index"].to_pylist(),
            (cell["bytes"] for cell in table["image"].to_pylist()),
            strict=True,
        ),
        key=lambda row: (row[0], row[1]),
    )
    digest = hashlib.sha256()
    for generator_id, index, png in rows:
        digest.update(f"{generator_id}/{index}/{len(png)}:".encode())
        digest.update(png)
    manifest = json.loads((root / "manifest.json").read_text())
    described = [{k: v for k, v in row.items() if k not in TIMING_FIELDS} for row in manifest]
    digest.update(json.dumps(described, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def load_manifest(root: str | Path = ARTIFACT_DIR) -> list[dict[str, Any]]:
    return json.loads((require_artifact(root) / "manifest.json").read_text())


def recorded_data_hash(root: str | Path = ARTIFACT_DIR) -> str:
    return (require_artifact(root) / "data_hash.txt").read_text().strip()


class DamagedArtifactError(ModelprintError):
    """The artifact's content does not hash to the data hash it records."""


def verify_artifact(root: str | Path, recorded: str) -> None:
    """Refuse an artifact whose images or manifest no longer hash to ``data_hash.txt``: a
    damaged or edited zoo would otherwise be reported under the original's data hash."""
    actual = compute_data_hash(root)
    if actual != recorded:
        raise DamagedArtifactError(
            f"zoo artifact at {root} hashes to {actual[:12]}..., not its recorded data hash "
            f"{recorded[:12]}...: it was damaged or edited (restore it, or rebuild it with "
            "`modelprint zoo build`)"
        )
