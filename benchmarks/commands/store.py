"""``modelprint store check`` (is the results store sound) and ``store merge`` (gather stores)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.cli import command


@command("store check")
def store_check() -> int:
    """Check the results store ($MODELPRINT_RESULTS): SQLite's integrity check, no run without
    figures, no figure without a run, no cell with splits missing. Read only; exit status 1 when
    anything is wrong (each problem on one line), 0 when sound."""
    from leaderboards import open_store

    store = open_store(readonly=True)
    problems = store.check()
    for problem in problems:  # plain lines: a script greps them, nothing wraps them
        print(f"{store.path}: {problem}")
    if problems:
        return 1
    runs = len(store.runs())
    print(f"{store.path}: ok ({runs} runs; integrity check, figures and cells consistent)")
    return 0


@command("store merge")
def store_merge(sources: list[str] | str | None = None) -> int:
    """Merge other results stores into this one ($MODELPRINT_RESULTS) by run key: runs it lacks
    are copied as recorded, runs it holds with the same figures are skipped (merging twice
    changes nothing), and a run of the same key with other figures stops the merge with nothing
    written.

    Args:
        sources: the stores to merge in (SQLite files, or PostgreSQL URLs), e.g. one per
            job-array task: ``--sources=[a.sqlite,b.sqlite]``, or one as ``--sources=a.sqlite``.
    """
    from leaderboards import StoreError, open_store
    from leaderboards.merge import merge_stores

    if not sources:
        raise StoreError("store merge: name the stores to merge in, e.g. --sources=[a.sqlite,b.sqlite]")
    sources = [sources] if isinstance(sources, str) else sources
    target = open_store()
    target.check_writable()
    stores = []
    for path in sources:
        stores.append(open_store(path if path.startswith("postgres") else Path(path), readonly=True))
    summary = merge_stores(target, stores)
    print(f"{target.path}: added {summary.added} run(s), {summary.identical} already there")
    return 0
