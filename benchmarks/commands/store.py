"""``modelprint store check``: is the results store sound, before figures are read from it."""

from __future__ import annotations

from benchmarks.cli import command
from core.paths import results_store_path


@command("store check")
def store_check() -> int:
    """Check the results store ($MODELPRINT_RESULTS): SQLite's integrity check, no run without
    figures, no figure without a run, no cell with splits missing. Read only; exit status 1 when
    anything is wrong (each problem on one line), 0 when sound."""
    from leaderboards.store import ResultsStore

    store = ResultsStore(results_store_path(), readonly=True)
    problems = store.check()
    for problem in problems:  # plain lines: a script greps them, nothing wraps them
        print(f"{store.path}: {problem}")
    if problems:
        return 1
    runs = len(store.runs())
    print(f"{store.path}: ok ({runs} runs; integrity check, figures and cells consistent)")
    return 0
