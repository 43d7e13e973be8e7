"""The results store on PostgreSQL, for many machines writing one store at once.

Same schema (version, tables, views), same run key, the same one-transaction-per-cell
guarantee and the same reads as the SQLite store it subclasses: only what SQL cannot say the
same way on both is overridden here. Chosen: psycopg 3 directly rather than SQLAlchemy Core -
the store is a dozen hand-written statements, and the two dialects differ in four places
(write serialisation, JSON access, column introspection, the schema version), which small
overrides state more plainly than a query builder would.

* Writers are serialised by a transaction-scoped advisory lock (``pg_advisory_xact_lock``),
  the counterpart of SQLite's ``BEGIN IMMEDIATE``: a key's check-then-insert never interleaves
  with another writer's, so two agents writing the same key leave one run.
* The schema version lives in a ``modelprint_meta`` table (SQLite keeps it in ``user_version``).
* A lost connection (server restart, network) mid-write rolls the transaction back on the
  server; the writer gets a one-line :class:`StoreError` and the cell runs again next time.

``MODELPRINT_RESULTS=postgresql://user:password@host/db`` selects it (:func:`open_store`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from leaderboards.store import SCHEMA_VERSION, ResultsStore, StoreError

#: the lock id every modelprint writer takes (an arbitrary constant: "mp" in ASCII)
WRITE_LOCK = 0x6D70

SCHEMA = """
CREATE TABLE IF NOT EXISTS modelprint_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id           TEXT PRIMARY KEY,
    method           TEXT NOT NULL,
    protocol         TEXT NOT NULL,
    dataset          TEXT NOT NULL,
    split            TEXT NOT NULL,
    seed             BIGINT NOT NULL,
    config_hash      TEXT NOT NULL,
    config_json      TEXT NOT NULL,
    data_hash        TEXT NOT NULL,
    git_sha          TEXT NOT NULL,
    package_versions TEXT NOT NULL,
    device           TEXT NOT NULL,
    wall_time_s      DOUBLE PRECISION NOT NULL,
    details_json     TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    seq              BIGSERIAL,
    UNIQUE (method, protocol, dataset, split, seed, config_hash, data_hash)
);
CREATE TABLE IF NOT EXISTS figures (
    run_id  TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    metric  TEXT NOT NULL,
    value   DOUBLE PRECISION NOT NULL,
    ci_low  DOUBLE PRECISION,
    ci_high DOUBLE PRECISION,
    PRIMARY KEY (run_id, metric)
);
CREATE OR REPLACE VIEW figure_rows AS
    SELECT r.run_id, r.method, r.protocol, r.dataset, r.split, r.seed, f.metric, f.value,
           f.ci_low, f.ci_high, r.config_hash, r.data_hash, r.git_sha, r.package_versions,
           r.device, r.wall_time_s, r.created_at, r.details_json
    FROM figures AS f JOIN runs AS r USING (run_id);
CREATE OR REPLACE VIEW current_figure_rows AS
    SELECT * FROM figure_rows AS fr
    WHERE fr.data_hash = (
        SELECT r.data_hash FROM runs AS r WHERE r.dataset = fr.dataset
        GROUP BY r.data_hash ORDER BY MIN(r.created_at) DESC, MIN(r.seq) DESC LIMIT 1
    )
"""


def is_database_url(location: object) -> bool:
    return isinstance(location, str) and re.match(r"postgres(ql)?://", location) is not None


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


class PostgresStore(ResultsStore):
    """The results store in a PostgreSQL database; see the module docstring."""

    row_order = "seq"

    def __init__(self, url: str, *, busy_timeout_s: float = 120.0, readonly: bool = False) -> None:
        import psycopg

        self.url, self.path = url, redacted(url)  # type: ignore[assignment]
        self.busy_timeout_s, self.readonly, self._uri = busy_timeout_s, readonly, None
        try:
            self._open()
        except psycopg.Error as error:
            raise self._unreachable(error) from None

    def _unreachable(self, error: Exception) -> StoreError:
        reason = " ".join(str(error).split())[:300]
        return StoreError(
            f"results store {self.path} cannot be used ({reason}); nothing was recorded from this "
            "attempt - check the server and the URL, then run again (recorded cells are skipped)"
        )

    @contextmanager
    def _connect(self) -> Iterator[Connection]:  # type: ignore[override]
        import psycopg

        conn = psycopg.connect(
            self.url, autocommit=True, row_factory=row_factory, connect_timeout=int(self.busy_timeout_s)
        )
        try:
            yield Connection(conn)
        finally:
            conn.close()

    def _open(self) -> None:
        with self._connect() as conn:
            if self.readonly:
                version = self._version(conn)
                if version != SCHEMA_VERSION:
                    raise (
                        self._newer(version)
                        if version > SCHEMA_VERSION
                        else StoreError(
                            f"results store {self.path} holds no modelprint schema; open it once for writing"
                        )
                    )
                return
            self.begin_write(conn)  # two processes creating one store: one creates, one waits
            try:
                conn.execute(SCHEMA.split(";")[0])
                version = self._version(conn)
                if version > SCHEMA_VERSION:
                    raise self._newer(version)
                for statement in filter(str.strip, SCHEMA.split(";")[1:]):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO modelprint_meta VALUES ('schema_version', ?) ON CONFLICT (key) DO NOTHING",
                    (str(SCHEMA_VERSION),),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @staticmethod
    def _version(conn: Connection) -> int:
        exists = conn.execute("SELECT to_regclass('modelprint_meta') IS NOT NULL").fetchone()[0]
        if not exists:
            return 0
        row = conn.execute("SELECT value FROM modelprint_meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def begin_write(self, conn: Any) -> None:
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))

    def json_field(self, column: str, path: str) -> str:
        return f"({column}::json #>> '{{{','.join(path.split('.'))}}}')"

    def columns(self, conn: Any, table: str) -> set[str]:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema()",
            (table,),
        ).fetchall()
        return {row[0] for row in rows}

    def _integrity_answer(self) -> str:
        """PostgreSQL keeps its own pages consistent (WAL, checksums where enabled): nothing for a
        client to check beyond the runs and figures ``check`` reads."""
        return "ok"

    def check_writable(self) -> None:
        if self.readonly:
            raise StoreError(f"results store {self.path} was opened for reading only")
        import psycopg

        try:
            with self._connect() as conn:
                conn.execute("BEGIN")
                try:  # needs the right to write runs; rolled back
                    conn.execute("LOCK TABLE runs IN ROW EXCLUSIVE MODE NOWAIT")
                finally:
                    conn.execute("ROLLBACK")
        except psycopg.errors.InsufficientPrivilege as error:
            reason = " ".join(str(error).split())
            raise StoreError(
                f"results store {self.path} cannot be written ({reason}); nothing was run"
            ) from None
        except psycopg.errors.LockNotAvailable:
            return  # another writer holds it: writable, just busy
        except psycopg.Error as error:
            raise self._unreachable(error) from None

    def write_runs(self, runs: Any, *, on_conflict: Any = "replace") -> list[str]:
        import psycopg

        try:
            return super().write_runs(runs, on_conflict=on_conflict)
        except psycopg.OperationalError as error:  # connection lost: the server rolled it back
            raise self._unreachable(error) from None
