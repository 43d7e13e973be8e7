"""modelprint leaderboards: the results store and the tables and plots rendered from it.

:func:`open_store` is the one place that knows every database a store can live in, so the
backends (:mod:`leaderboards.store` with SQLite, :mod:`leaderboards.postgres_store`) import
only the schema they share (:mod:`leaderboards.schema`), never each other. What a caller of
the store needs is importable from here.
"""

from __future__ import annotations

from pathlib import Path

from core.paths import results_store_location
from leaderboards.postgres_store import PostgresDialect
from leaderboards.schema import RunKey
from leaderboards.store import Figure, ResultsStore, RunRecord, StoreError

__all__ = ["Figure", "ResultsStore", "RunKey", "RunRecord", "StoreError", "open_store"]


def open_store(location: str | Path | None = None, *, readonly: bool = False) -> ResultsStore:
    """The results store at ``location`` (default: ``$MODELPRINT_RESULTS``): a SQLite file for
    one machine, or a ``postgresql://`` URL for many (:mod:`leaderboards.postgres_store`).
    Opened for reading only, nothing is created: a missing store is an error."""
    location = results_store_location() if location is None else location
    if isinstance(location, str) and location.startswith(("postgresql://", "postgres://")):
        return ResultsStore(location, readonly=readonly, dialect=PostgresDialect)
    return ResultsStore(Path(location), readonly=readonly)
