"""Build results-store records with the full provenance of the code and machine that made them."""

from __future__ import annotations

from typing import Any

from benchmarks.environment import device_description, git_revision, package_versions
from leaderboards.store import RunRecord


def run_record(
    *,
    method: str,
    protocol: str,
    dataset: str,
    split: str,
    seed: int,
    config: dict[str, Any],
    data_hash: str,
    wall_time_s: float,
    details: dict[str, Any] | None = None,
) -> RunRecord:
    """A :class:`RunRecord` stamped with git revision, package versions and device."""
    return RunRecord(
        method=method,
        protocol=protocol,
        dataset=dataset,
        split=split,
        seed=seed,
        config=config,
        data_hash=data_hash,
        git_sha=git_revision(),
        package_versions=package_versions(),
        device=device_description(),
        wall_time_s=wall_time_s,
        details=details or {},
    )
