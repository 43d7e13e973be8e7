"""The results store on PostgreSQL, for many machines writing one store at once.

:class:`PostgresDialect` is what the one :class:`~leaderboards.store.ResultsStore` needs said
PostgreSQL's way; the schema (:mod:`leaderboards.schema`), the run key, the
one-transaction-per-cell guarantee and every read are the store's, shared with SQLite. Chosen:
psycopg 3 directly rather than SQLAlchemy Core - the store is a dozen statements, and the two
databases differ in a handful of places (write serialisation, JSON access, column
introspection, the schema version, their errors), which a small dialect states more plainly
than a query builder would.

* Writers are serialised by a transaction-scoped advisory lock (``pg_advisory_xact_lock``),
  the counterpart of SQLite's ``BEGIN IMMEDIATE``: a key's check-then-insert never interleaves
  with another writer's, so two agents writing the same key leave one run.
* The schema version lives in a ``modelprint_meta`` table (SQLite keeps it in ``user_version``).
* A lost connection (server restart, network) mid-write rolls the transaction back on the
  server; the writer gets a one-line :class:`~leaderboards.store.StoreError` and the cell runs
  again next time.

``MODELPRINT_RESULTS=postgresql://user:password@host/db`` selects it
(:func:`leaderboards.open_store`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from leaderboards.schema import META

#: the lock id every modelprint writer takes (an arbitrary constant: "mp" in ASCII)
WRITE_LOCK = 0x6D70


def redacted(url: str) -> str:
    """The URL without its password, for messages and records."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


class Row(tuple):
    """A result row readable by position and by column name, like ``sqlite3.Row``."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self.names


def row_factory(cursor: Any) -> Any:
    names = tuple(c.name for c in cursor.description or ())
    row_type = type("Row", (Row,), {"names": names})
    return lambda values: row_type(values)


class Connection:
    """A psycopg connection that takes the SQLite store's ``?`` placeholders."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(self._sql(sql), [tuple(r) for r in rows])


class PostgresDialect:
    """The results store in a PostgreSQL database; see the module docstring. Messages name the
    database by its URL without the password."""

    name = "postgresql"

    def __init__(self, location: str | Path, *, busy_timeout_s: float, readonly: bool) -> None:
        import psycopg

        self.url, self.location = str(location), redacted(str(location))
        self.busy_timeout_s = busy_timeout_s
        self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
        self.connection_lost: tuple[type[Exception], ...] = (psycopg.OperationalError,)

    def exists(self) -> bool:
        return True  # the server answers for itself: a database without the schema reads as version 0

    def prepare(self) -> None:
        """Nothing: the server keeps its own files."""

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        import psycopg

        conn = psycopg.connect(
            self.url, autocommit=True, row_factory=row_factory, connect_timeout=int(self.busy_timeout_s)
        )
        try:
            yield Connection(conn)
        finally:
            conn.close()

    def begin_write(self, conn: Connection) -> None:
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))

    def json_field(self, column: str, path: str) -> str:
        return f"({column}::json #>> '{{{','.join(path.split('.'))}}}')"

    def columns(self, conn: Connection, table: str) -> set[str]:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema()",
            (table,),
        ).fetchall()
        return {row[0] for row in rows}

    def version(self, conn: Connection) -> int:
        exists = conn.execute("SELECT to_regclass(?) IS NOT NULL", (META.name,)).fetchone()[0]
        if not exists:
            return 0
        row = conn.execute(f"SELECT value FROM {META.name} WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def set_version(self, conn: Connection, version: int) -> None:
        conn.execute(META.create(self.name))
        conn.execute(
            f"{META.insert()} ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            ("schema_version", str(version)),
        )

    def integrity_problem(self) -> str:
        """PostgreSQL keeps its own pages consistent (WAL, checksums where enabled): nothing for a
        client to check beyond the runs and figures the store reads."""
        return ""

    def probe_write(self, conn: Connection) -> str | None:
        """Take the lock a write of ``runs`` takes, without waiting, and roll back: refused
        without the right to write; held by another writer means writable, just busy."""
        import psycopg

        conn.execute("BEGIN")
        try:
            conn.execute("LOCK TABLE runs IN ROW EXCLUSIVE MODE NOWAIT")
        except psycopg.errors.LockNotAvailable:
            pass
        finally:
            conn.execute("ROLLBACK")
        return None

    def describe(self, error: Exception) -> str:
        import psycopg

        reason = " ".join(str(error).split())
        if isinstance(error, psycopg.errors.InsufficientPrivilege):
            return f"results store {self.location} cannot be written ({reason}); nothing was run"
        return (
            f"results store {self.location} cannot be used ({reason[:300]}); nothing was recorded from "
            "this attempt - check the server and the URL, then run again (recorded cells are skipped)"
        )
