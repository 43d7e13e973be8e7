"""Merging results stores by run key: for agents or job-array tasks that could only write a
local SQLite file, gathered afterwards into one store.

A run of a source whose key (method, protocol, data set, split, seed, config hash, data hash)
the target lacks is copied as it was recorded - run id, provenance, creation time, figures - so
the "current version" and "current configuration" rules read the merged store as they read
the sources. A key both hold with the same figures is skipped, so merging twice changes
nothing. A key both hold with *different* figures is a conflict: nothing is written and the
error names the run, because which figure is right is for a person to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leaderboards.store import RUN_COLUMNS, ResultsStore, StoreError

KEY = ("method", "protocol", "dataset", "split", "seed", "config_hash", "data_hash")

FIGURE_COLUMNS = ("run_id", "metric", "value", "ci_low", "ci_high")
INSERT_RUN = f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})"


@dataclass
class MergeSummary:
    added: int = 0
    identical: int = 0


def runs_with_figures(store: ResultsStore) -> dict[tuple[Any, ...], tuple[dict, frozenset]]:
    """Every run of a store (every data version), by key, with its figures as a set."""
    with store.connection() as conn:
        runs = [dict(r) for r in conn.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs")]
        figures: dict[str, set] = {}
        for row in conn.execute(f"SELECT {', '.join(FIGURE_COLUMNS)} FROM figures"):
            figures.setdefault(row["run_id"], set()).add(tuple(row[c] for c in FIGURE_COLUMNS[1:]))
    return {tuple(r[k] for k in KEY): (r, frozenset(figures.get(r["run_id"], ()))) for r in runs}


def merge_stores(target: ResultsStore, sources: list[ResultsStore]) -> MergeSummary:
    """Copy into ``target`` every run of ``sources`` it lacks (see the module docstring)."""
    held = runs_with_figures(target)
    summary, to_add, conflicts = MergeSummary(), {}, []
    for source in sources:
        for key, (run, figures) in runs_with_figures(source).items():
            existing = held.get(key) or to_add.get(key)
            if existing is None:
                to_add[key] = (run, figures)
            elif existing[1] == figures:
                summary.identical += 1
            else:
                conflicts.append(f"{source.path}: run {run['run_id']} ({' / '.join(map(str, key[:5]))})")
    if conflicts:
        raise StoreError(
            f"{len(conflicts)} run(s) conflict with a run of the same key and other figures, e.g. "
            f"{conflicts[0]}; nothing was merged - remove the wrong run from one store and merge again"
        )
    with target.connection() as conn:
        target.begin_write(conn)
        try:
            for run, figures in to_add.values():
                conn.execute(INSERT_RUN, tuple(run[c] for c in RUN_COLUMNS))
                conn.executemany(
                    "INSERT INTO figures VALUES (?,?,?,?,?)", [(run["run_id"], *f) for f in figures]
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    summary.added = len(to_add)
    return summary
