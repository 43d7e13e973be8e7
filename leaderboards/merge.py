"""Merging results stores by run key: for agents or job-array tasks that could only write a
local SQLite file, gathered afterwards into one store.

A run of a source whose key (:class:`~leaderboards.schema.RunKey`) the target lacks is copied
as it was recorded - run id, provenance, creation time, figures - so the "current version" and
"current configuration" rules read the merged store as they read the sources. A key both hold
with the same figures is skipped, so merging twice changes nothing. A key both hold with
*different* figures is a conflict: nothing is written and the error names the run, because
which figure is right is for a person to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leaderboards.schema import RunKey
from leaderboards.store import ResultsStore, StoreError


@dataclass
class MergeSummary:
    added: int = 0
    identical: int = 0


def merge_stores(target: ResultsStore, sources: list[ResultsStore]) -> MergeSummary:
    """Copy into ``target`` every run of ``sources`` it lacks (see the module docstring)."""
    held = target.runs_with_figures()
    summary = MergeSummary()
    to_add: dict[RunKey, tuple[dict[str, Any], frozenset[tuple[Any, ...]]]] = {}
    conflicts = []
    for source in sources:
        for key, (run, figures) in source.runs_with_figures().items():
            existing = held.get(key) or to_add.get(key)
            if existing is None:
                to_add[key] = (run, figures)
            elif existing[1] == figures:
                summary.identical += 1
            else:
                where = " / ".join(map(str, key.values()[:5]))  # method / protocol / data set / split / seed
                conflicts.append(f"{source.path}: run {run['run_id']} ({where})")
    if conflicts:
        raise StoreError(
            f"{len(conflicts)} run(s) conflict with a run of the same key and other figures, e.g. "
            f"{conflicts[0]}; nothing was merged - remove the wrong run from one store and merge again"
        )
    target.copy_runs(to_add.values())
    summary.added = len(to_add)
    return summary
