"""The results store: one database that every figure of every run lands in.

Leaderboards are views of this store and nothing else, so each figure carries its
provenance: config (and its hash), seed, data hash, git revision, package versions, device
and wall time. A run's figures - every split of one benchmark cell - are written in a single
transaction that serialises writers, so a writer killed half way leaves no partial run behind
and two writers of one key leave one run.

A run is identified by its key (:class:`~leaderboards.schema.RunKey`: method, protocol,
dataset, split, seed, config hash, data hash), and writing the same key twice replaces the
earlier run (or, on request, is rejected); it is never duplicated.

One :class:`ResultsStore` serves every database through a small dialect object that says what
SQL cannot say the same way everywhere (connecting, taking the write lock, reading a JSON
field, listing a table's columns, keeping the schema version, and the database's own checks).
:class:`SqliteDialect` is here: one file, in WAL mode so that many processes on one machine
(sweep agents, DDP ranks, parallel tests) share it. PostgreSQL, for many machines, is
:mod:`leaderboards.postgres_store`; :func:`leaderboards.open_store` picks one from a location.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from core.errors import ModelprintError
from core.hashing import config_hash
from datamodules import content_options
from leaderboards.schema import (
    FIGURES,
    RUN_KEY,
    RUNS,
    SCHEMA_VERSION,
    SPELLINGS,
    RunKey,
    Table,
    create_statements,
)


class RunExistsError(RuntimeError):
    """A run with the same key is already in the store and the writer asked not to replace it."""


class StoreError(ModelprintError):
    """A results store that cannot be used as asked: damaged, of a newer schema, or not
    writable where figures are to be written. Never overwritten: the message says what to do."""


@dataclass(frozen=True)
class Figure:
    """One number a run produced, with its bootstrap confidence interval when there is one."""

    metric: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass
class RunRecord:
    """A run's identity and provenance; its figures are passed separately to ``write_run``."""

    method: str
    protocol: str
    dataset: str
    split: str
    seed: int
    config: dict[str, Any]
    data_hash: str
    git_sha: str
    package_versions: dict[str, str]
    device: str
    wall_time_s: float
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def key(self) -> RunKey:
        return RunKey(
            self.method,
            self.protocol,
            self.dataset,
            self.split,
            self.seed,
            config_hash(self.config),
            self.data_hash,
        )


class Connection(Protocol):
    """An open connection in autocommit mode taking ``?`` placeholders, whose rows read by
    position and by column name (``sqlite3.Connection``, or PostgreSQL's adapter)."""

    def execute(self, sql: str, params: Any = (), /) -> Any: ...

    def executemany(self, sql: str, rows: Any, /) -> Any: ...


class Dialect(Protocol):
    """What one database says its own way; the store says everything else once. A dialect is
    built from the store's location, busy timeout and read-only flag."""

    #: the key of the database's types in :data:`leaderboards.schema.SPELLINGS`
    name: str
    #: where the store is, for messages and records: a file, or a URL without its password
    location: Path | str
    #: the driver's errors: any of them while opening or probing becomes one line (:meth:`describe`)
    errors: tuple[type[Exception], ...]
    #: the errors that mean the connection was lost mid-write (the server rolled the write back)
    connection_lost: tuple[type[Exception], ...]

    def __init__(self, location: str | Path, *, busy_timeout_s: float, readonly: bool) -> None: ...

    def exists(self) -> bool:
        """Whether there is a store to read (a database server always answers for itself)."""

    def prepare(self) -> None:
        """What the database needs before the store's schema is read or written."""

    def connect(self) -> contextlib.AbstractContextManager[Connection]: ...

    def begin_write(self, conn: Connection) -> None:
        """Open a transaction that waits for, then excludes, every other writer."""

    def json_field(self, column: str, path: str) -> str:
        """SQL for a dotted field of a JSON text column, as text."""

    def columns(self, conn: Connection, table: str) -> set[str]: ...

    def version(self, conn: Connection) -> int:
        """The schema version the database holds (0: none yet)."""

    def set_version(self, conn: Connection, version: int) -> None: ...

    def integrity_problem(self) -> str:
        """The database's own account of damage to the store ("" where it finds none)."""

    def probe_write(self, conn: Connection) -> str | None:
        """Try a write that is rolled back; the one-line problem, or ``None`` where it is
        writable."""

    def describe(self, error: Exception) -> str:
        """One line saying what ``error`` (one of :attr:`errors`) means for this store and what
        to do."""


class ResultsStore:
    """A handle on one results store; cheap to create, safe to share across processes.

    ``location`` is a SQLite file unless ``dialect`` names another database's
    (:func:`leaderboards.open_store` chooses from the location).

    Example:
        >>> import tempfile, pathlib
        >>> store = ResultsStore(pathlib.Path(tempfile.mkdtemp()) / "r.sqlite")
        >>> run = RunRecord("spectral", "closed_set", "zoo", "known", 0, {"lr": 0.1}, "d1",
        ...                 "abc", {}, "cpu", 1.0)
        >>> _ = store.write_run(run, [Figure("accuracy", 0.75, 0.7, 0.8)])
        >>> [(row["method"], row["metric"], row["value"]) for row in store.figure_rows()]
        [('spectral', 'accuracy', 0.75)]
    """

    def __init__(
        self,
        location: str | Path,
        *,
        busy_timeout_s: float = 120.0,
        readonly: bool = False,
        dialect: type[Dialect] | None = None,
    ) -> None:
        self.dialect: Dialect = (dialect or SqliteDialect)(
            location, busy_timeout_s=busy_timeout_s, readonly=readonly
        )
        #: where the store is, for messages: the SQLite file, or the database URL without its password
        self.path = self.dialect.location
        self.readonly = readonly
        #: the column that orders runs written in the same second (the current-version rule's tie-break)
        self.row_order = SPELLINGS[self.dialect.name].row_order
        with self._one_line(self.dialect.errors):
            self._open()

    @contextmanager
    def _one_line(self, errors: tuple[type[Exception], ...]) -> Iterator[None]:
        """The driver's ``errors`` as a one-line :class:`StoreError` that says what to do."""
        try:
            yield
        except errors as error:
            raise StoreError(self.dialect.describe(error)) from None

    def _open(self) -> None:
        """Read the schema version, creating the schema in a new store (under the write lock:
        two processes creating one store - one creates, one waits). Opened for reading only,
        nothing is created or migrated."""
        if self.readonly and not self.dialect.exists():
            raise StoreError(f"no results store at {self.path}")
        self.dialect.prepare()
        if self.readonly:
            with self.dialect.connect() as conn:
                version = self.dialect.version(conn)
            if version > SCHEMA_VERSION:
                raise self._newer(version)
            if version < SCHEMA_VERSION:
                held = "holds no modelprint schema" if version == 0 else f"has schema version {version}"
                raise StoreError(
                    f"results store {self.path} {held}; open it once for writing (modelprint run) "
                    "to create or migrate it"
                )
            return
        with self.transaction() as conn:
            version = self.dialect.version(conn)
            if version not in (0, SCHEMA_VERSION):
                raise self._newer(version)
            if version == 0:
                for statement in create_statements(self.dialect.name):
                    conn.execute(statement)
                self.dialect.set_version(conn, SCHEMA_VERSION)

    def _newer(self, version: int) -> StoreError:
        return StoreError(
            f"results store {self.path} has schema version {version}; this modelprint reads "
            f"version {SCHEMA_VERSION} - upgrade modelprint, or use a new store"
        )

    def check(self) -> list[str]:
        """Every problem found, one line each (empty: the store is sound): the database's own
        integrity check, runs without figures, figures without a run, and cells with splits
        missing."""
        damage = self.dialect.integrity_problem()
        if damage:
            return [damage]
        with self.connection() as conn:
            bare = conn.execute(
                "SELECT run_id, method, protocol, split, seed FROM runs "
                "WHERE run_id NOT IN (SELECT run_id FROM figures)"
            ).fetchall()
            orphans = conn.execute(
                "SELECT run_id, COUNT(*) AS n FROM figures WHERE run_id NOT IN (SELECT run_id FROM runs) "
                "GROUP BY run_id"
            ).fetchall()
        problems = [
            f"run {r['run_id']} ({r['method']} / {r['protocol']} / {r['split']} / seed {r['seed']}) "
            "has no figures"
            for r in bare
        ]
        problems += [f"{o['n']} figure(s) of run {o['run_id']}, which is not in the store" for o in orphans]
        malformed = self.malformed_json()
        if malformed:  # the cell checks read inside these columns: they cannot run until repaired
            return problems + malformed
        return problems + [note for _, note in self.incomplete_cells()]

    def malformed_json(self) -> list[str]:
        """One line per run whose recorded JSON (config, details, package versions) does not
        parse - a hand edit or a damaged copy; the board and the cell checks need it whole."""
        columns = ("config_json", "details_json", "package_versions")
        with self.connection() as conn:
            rows = conn.execute(f"SELECT run_id, {', '.join(columns)} FROM runs").fetchall()
        problems = []
        for row in rows:
            for column in columns:
                value = row[column]
                if isinstance(value, str):
                    try:
                        json.loads(value)
                    except ValueError as error:
                        problems.append(f"run {row['run_id']}: {column} is not valid JSON ({error})")
        return problems

    def check_writable(self) -> None:
        """Refuse, before any work, a store that cannot take a run: damaged, not writable (file,
        folder, mount or database role), or opened for reading only."""
        if self.readonly:
            raise StoreError(f"results store {self.path} was opened for reading only")
        with self._one_line(self.dialect.errors), self.connection() as conn:
            problem = self.dialect.probe_write(conn)
        if problem:
            raise StoreError(problem)

    def connection(self) -> contextlib.AbstractContextManager[Connection]:
        """A connection to the store, closed on exit (autocommit: each statement is its own
        transaction unless inside :meth:`transaction`)."""
        return self.dialect.connect()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside a write transaction, committed when the block ends and rolled back
        when it raises. Writers are serialised (SQLite takes its write lock at once, PostgreSQL
        an advisory lock), so two writers never interleave a key's check and insert."""
        with self.dialect.connect() as conn:
            self.dialect.begin_write(conn)
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def create(self, conn: Connection, table: Table) -> None:
        """Create ``table`` (kept beside the results, such as :data:`~leaderboards.schema.CLAIMS`)
        where it does not exist yet."""
        conn.execute(table.create(self.dialect.name))

    def write_run(
        self,
        run: RunRecord,
        figures: Iterable[Figure],
        *,
        on_conflict: Literal["replace", "reject"] = "replace",
    ) -> str:
        """Write a run and all its figures atomically; returns the run id.

        ``figures`` is consumed inside the transaction: if the writer dies before it is
        exhausted, nothing of the run is visible. A run with the same key is replaced
        (default) or, with ``on_conflict="reject"``, raises :class:`RunExistsError`.
        """
        return self.write_runs([(run, figures)], on_conflict=on_conflict)[0]

    def write_runs(
        self,
        runs: Iterable[tuple[RunRecord, Iterable[Figure]]],
        *,
        on_conflict: Literal["replace", "reject"] = "replace",
    ) -> list[str]:
        """Write several runs - every split of one benchmark cell - in one transaction, so that
        the store holds all of them or none (the board never shows part of a cell). A
        connection lost mid-write is one line: the database rolled the write back."""
        ids = []
        with self._one_line(self.dialect.connection_lost), self.transaction() as conn:
            for run, figures in runs:
                self._insert(conn, run, figures, on_conflict)
                ids.append(run.run_id)
        return ids

    def _insert(
        self,
        conn: Connection,
        run: RunRecord,
        figures: Iterable[Figure],
        on_conflict: Literal["replace", "reject"],
    ) -> None:
        key = run.key
        existing = conn.execute(f"SELECT run_id FROM runs WHERE {_KEY_WHERE}", key.values()).fetchone()
        if existing is not None:
            if on_conflict == "reject":
                raise RunExistsError(f"run {key} already in {self.path}")
            conn.execute("DELETE FROM runs WHERE run_id=?", (existing["run_id"],))
        row = {
            **asdict(key),
            "run_id": run.run_id,
            "config_json": json.dumps(run.config, sort_keys=True, default=str),
            "git_sha": run.git_sha,
            "package_versions": json.dumps(run.package_versions, sort_keys=True),
            "device": run.device,
            "wall_time_s": float(run.wall_time_s),
            "details_json": json.dumps(run.details, sort_keys=True, default=str),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        conn.execute(RUNS.insert(), tuple(row[column] for column in RUNS.recorded))
        count = 0
        for fig in figures:
            conn.execute(
                FIGURES.insert(), (run.run_id, fig.metric, float(fig.value), fig.ci_low, fig.ci_high)
            )
            count += 1
        if count == 0:
            raise ValueError(f"run {key} has no figures; refusing to record an empty run")

    def has_run(self, key: RunKey) -> bool:
        """Whether a run with this key is recorded (the runner's resume check)."""
        with self.connection() as conn:
            row = conn.execute(f"SELECT 1 FROM runs WHERE {_KEY_WHERE}", key.values()).fetchone()
        return row is not None

    def runs_with_figures(self) -> dict[RunKey, tuple[dict[str, Any], frozenset[tuple[Any, ...]]]]:
        """Every run (every data version) as recorded, by key, with its figures as a set of
        (metric, value, ci_low, ci_high): what a merge compares between stores."""
        figure_values = FIGURES.recorded[1:]  # all but the run id
        with self.connection() as conn:
            runs = [dict(r) for r in conn.execute(f"SELECT {', '.join(RUNS.recorded)} FROM runs")]
            figures: dict[str, set[tuple[Any, ...]]] = {}
            for row in conn.execute(f"SELECT {', '.join(FIGURES.recorded)} FROM figures"):
                figures.setdefault(row["run_id"], set()).add(tuple(row[c] for c in figure_values))
        return {RunKey.of(r): (r, frozenset(figures.get(r["run_id"], ()))) for r in runs}

    def copy_runs(self, runs: Iterable[tuple[Mapping[str, Any], Iterable[tuple[Any, ...]]]]) -> None:
        """Write runs as another store recorded them - run id, provenance, creation time and
        figures (as :meth:`runs_with_figures` gives them) - in one transaction."""
        with self._one_line(self.dialect.connection_lost), self.transaction() as conn:
            for run, figures in runs:
                conn.execute(RUNS.insert(), tuple(run[column] for column in RUNS.recorded))
                conn.executemany(FIGURES.insert(), [(run["run_id"], *figure) for figure in figures])

    def runs(self, **filters: Any) -> list[dict[str, Any]]:
        """Recorded runs, filtered by equality on any ``runs`` column."""
        return self._select("runs", filters)

    def newest_current_runs(
        self, by: tuple[str, ...], **filters: Any
    ) -> dict[tuple[Any, ...], dict[str, Any]]:
        """The newest run per value of the ``by`` columns among the runs whose figures the
        board shows (:meth:`figure_rows`' rules: current data version, options and cell
        configuration), details decoded: what a plot or a per-generator table draws, so no
        picture outlives the figures it sits beside."""
        shown = {row["run_id"] for row in self.figure_rows(**filters)}
        newest: dict[tuple[Any, ...], dict[str, Any]] = {}
        for run in self.runs(**filters):  # ordered by creation
            if run["run_id"] in shown:
                newest[tuple(run[column] for column in by)] = {
                    **run,
                    "details": json.loads(run["details_json"]),
                }
        return newest

    def figure_rows(self, *, every_data_version: bool = False, **filters: Any) -> list[dict[str, Any]]:
        """One row per figure with its run's provenance, filtered by equality on any column.

        Only figures on each data set's current version (:meth:`current_data_hashes`) and
        options (:meth:`runs_on_former_options`), so a leaderboard never averages runs on a
        rebuilt data set with runs on the old one; the older runs stay in the store
        (``every_data_version=True`` reads them too). Likewise only
        each cell's current configuration: where a (method, protocol, data set, split) was run
        under several configurations, the figures of the one run last, whatever its seed - a
        figure made by a configuration since changed is history, not a result to average with
        the new one (a seed not yet run under the new configuration drops out of the mean)."""
        if every_data_version:
            return self._select("figure_rows", filters)
        incomplete = {cell for cell, _ in self.incomplete_cells()}
        stale = self.runs_on_former_options()
        current = self.current_data_hashes()
        rows = [
            row
            for row in self._select("figure_rows", filters)
            if current.get(row["dataset"]) == row["data_hash"]
            and RunKey.cell_of(row) not in incomplete
            and row["run_id"] not in stale
        ]
        latest: dict[tuple[Any, ...], str] = {}
        for row in rows:  # in the order their runs were written
            latest[(row["method"], row["protocol"], row["dataset"], row["split"])] = row["config_hash"]
        return [
            row
            for row in rows
            if latest[(row["method"], row["protocol"], row["dataset"], row["split"])] == row["config_hash"]
        ]

    def current_data_hashes(self) -> dict[str, str]:
        """Each data set's current version: the data hash that appeared last (a late run on an
        older version does not make that version current again). Decided once per data set,
        not once per figure row (docs/performance.md says why)."""
        with self.connection() as conn:
            rows = conn.execute(
                f"SELECT dataset, data_hash, MIN(created_at) AS first, MIN({self.row_order}) AS row_number "
                "FROM runs GROUP BY dataset, data_hash"
            ).fetchall()
        newest: dict[str, tuple[Any, Any, str]] = {}
        for row in rows:
            key = (row["first"], row["row_number"], row["data_hash"])
            if row["dataset"] not in newest or key[:2] > newest[row["dataset"]][:2]:
                newest[row["dataset"]] = key
        return {dataset: key[2] for dataset, key in newest.items()}

    def runs_on_former_options(self) -> set[str]:
        """Runs made under data-set options (``dataset_args`` in their config) other than those
        of the data set's newest run: when the options change - the zoo's real class turned
        on - a cell not yet run under the new ones is history, not a figure to rank beside
        them. Only options that change what is read count: where the data set was read from
        (a path spelt otherwise, another machine's scratch copy; ``READING_OPTIONS``) never hides
        a run - older runs recorded it among their options. Runs whose config has no
        ``dataset_args`` (the studies) are not judged."""
        current: dict[str, str] = {}
        options: dict[str, tuple[str, str]] = {}
        for run in self.runs():  # ordered by creation
            config = json.loads(run["config_json"])
            if isinstance(config, dict) and "dataset_args" in config:
                args = config["dataset_args"]
                text = json.dumps(content_options(args) if isinstance(args, dict) else args, sort_keys=True)
                current[run["dataset"]] = text
                options[run["run_id"]] = (run["dataset"], text)
        return {run_id for run_id, (dataset, text) in options.items() if current[dataset] != text}

    def incomplete_cells(self) -> list[tuple[tuple[Any, ...], str]]:
        """Cells (:meth:`RunKey.cell_of`: method, protocol, data set, seed, config and data hash)
        that lack some of the splits they report on, each with a note saying which. A run
        records its cell's splits (``cell_splits``); runs of older stores that do not are held
        to the subsets their recorded protocol arguments name (open set's ``subsets``), else to
        what is there. The runner writes a cell in one transaction, so only stores written
        otherwise hold such cells - a kill between the open-set subsets' separate writes left
        them."""
        json_field = self.dialect.json_field
        with self.connection() as conn:
            runs = conn.execute(
                "SELECT method, protocol, dataset, seed, config_hash, data_hash, split, "
                f"{json_field('details_json', 'cell_splits')} AS cell_splits, "
                f"{json_field('config_json', 'protocol_args.subsets')} AS subsets FROM runs"
            ).fetchall()
        expected: dict[tuple[Any, ...], set[str]] = {}
        present: dict[tuple[Any, ...], set[str]] = {}
        for run in runs:
            cell = RunKey.cell_of(run)
            present.setdefault(cell, set()).add(run["split"])
            named = run["cell_splits"] or run["subsets"]
            if named:
                expected.setdefault(cell, set()).update(json.loads(named))
        notes = []
        for cell, splits in present.items():
            wanted = expected.get(cell, splits)
            if not wanted <= splits:
                method, protocol, dataset, seed = cell[:4]
                notes.append(
                    (
                        cell,
                        f"{method} / {protocol} / {dataset} / seed {seed}: only {sorted(splits)} of "
                        f"{sorted(wanted)} recorded - left off the board; rerun the cell",
                    )
                )
        return notes

    def _select(self, table: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of ``table`` (``runs`` or a view of it) in the order their runs were written:
        ``created_at`` has whole seconds, so runs of one second are told apart by the row order,
        never by their random ids."""
        with self.connection() as conn:
            columns = self.dialect.columns(conn, table)
            unknown = sorted(set(filters) - columns)
            if unknown:
                raise KeyError(f"unknown column(s) {unknown}; valid: {sorted(columns)}")
            where = " AND ".join(f"{name}=?" for name in filters) or "1=1"
            order = self.row_order if table == "runs" else "run_id"
            rows = [
                dict(row)
                for row in conn.execute(
                    f"SELECT * FROM {table} WHERE {where} ORDER BY created_at, {order}",
                    tuple(filters.values()),
                ).fetchall()
            ]
            if table != "runs":  # a view has no row order: its rows take their runs' (a stable sort)
                position = {
                    row[0]: index
                    for index, row in enumerate(
                        conn.execute(
                            f"SELECT run_id FROM runs ORDER BY created_at, {self.row_order}"
                        ).fetchall()
                    )
                }
                rows.sort(key=lambda row: position[row["run_id"]])
        return rows


_KEY_WHERE = " AND ".join(f"{name}=?" for name in RUN_KEY)


class SqliteDialect:
    """SQLite: the store is one file on one machine, in WAL mode so that many processes read it
    while one writes. Writers take the write lock when their transaction begins (``BEGIN
    IMMEDIATE``); the schema version is ``PRAGMA user_version``. Opened for reading only, the
    file is never changed: where SQLite cannot even take its read locks (a WAL store needs its
    ``-shm`` file, which a read-only mount cannot hold), it is read as immutable - a published
    store is checkpointed."""

    name = "sqlite"
    errors: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)
    connection_lost: tuple[type[Exception], ...] = ()  # a local file does not hang up

    def __init__(self, location: str | Path, *, busy_timeout_s: float, readonly: bool) -> None:
        self.location = self.path = Path(location)
        self.busy_timeout_s, self.readonly = busy_timeout_s, readonly
        self._uri = f"file:{self.path.resolve()}?mode=ro" if readonly else None

    def exists(self) -> bool:
        return self.path.is_file()

    def prepare(self) -> None:
        """Reading: fall back to immutable where the read locks cannot be taken. Writing: create
        the folder, switch to WAL, and bring a version-1 store to version 2."""
        if self.readonly:
            try:
                with self.connect() as conn:
                    conn.execute("SELECT 1 FROM runs LIMIT 1").fetchall()
            except sqlite3.OperationalError:
                self._uri = f"file:{self.path.resolve()}?immutable=1"
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # a regular file where a folder of the path should be, a permission
            blocking = next((p for p in self.path.parents if p.exists() and not p.is_dir()), None)
            why = f"{blocking} is a file, not a folder" if blocking else (error.strerror or str(error))
            raise StoreError(
                f"results store {self.path}: cannot create its folder ({why}); "
                "set MODELPRINT_RESULTS to a file in a writable folder"
            ) from None
        with self.connect() as conn:
            self._enable_wal(conn)
            if self.version(conn) == 1:
                _migrate_1_to_2(conn)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        if self._uri is not None:
            conn = sqlite3.connect(self._uri, timeout=self.busy_timeout_s, isolation_level=None, uri=True)
        else:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")
        if not self.readonly:
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            yield conn
        finally:
            conn.close()

    def begin_write(self, conn: Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def json_field(self, column: str, path: str) -> str:
        return f"json_extract({column}, '$.{path}')"

    def columns(self, conn: Connection, table: str) -> set[str]:
        return {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}

    def version(self, conn: Connection) -> int:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def set_version(self, conn: Connection, version: int) -> None:
        conn.execute(f"PRAGMA user_version={int(version)}")

    def integrity_problem(self) -> str:
        answer = self._integrity_answer()
        return "" if answer == "ok" else f"PRAGMA integrity_check: {answer}"

    def probe_write(self, conn: Connection) -> str | None:
        """SQLite's quick check, then a real write, rolled back: the only test SQLite answers
        truthfully (file, folder and mount permissions all play a part)."""
        answer = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
        if answer != ["ok"]:
            return (
                f"results store {self.path} is damaged (PRAGMA quick_check: {'; '.join(answer[:3])}); "
                "restore it from a copy, or point MODELPRINT_RESULTS at a new file"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE _write_probe (x)")
        finally:
            conn.execute("ROLLBACK")
        return None

    def describe(self, error: Exception) -> str:
        """A damaged, unreadable or unwritable file: SQLite's answer, and its integrity check
        where the file could be opened - never an overwrite."""
        if isinstance(error, sqlite3.OperationalError) and any(
            words in str(error) for words in ("readonly", "read-only", "unable to open")
        ):
            return (
                f"results store {self.path} cannot be written ({error}); nothing was run - "
                "make it writable, or point MODELPRINT_RESULTS at a writable file"
            )
        answer = self._integrity_answer()
        return (
            f"results store {self.path} cannot be used ({error}"
            + (f"; PRAGMA integrity_check: {answer}" if answer else "")
            + "); it is left as it is - restore it from a copy, or point MODELPRINT_RESULTS at a new file"
        )

    def _integrity_answer(self) -> str:
        """SQLite's own account of the damage (first lines of ``PRAGMA integrity_check``), or
        what stops it from giving one."""
        try:
            with self.connect() as conn:
                answer = [row[0] for row in conn.execute("PRAGMA integrity_check(5)").fetchall()]
        except sqlite3.DatabaseError as error:
            return f"cannot run ({error})"
        return "; ".join(answer)

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL; SQLite answers 'locked' at once (no busy wait) while another process
        switches the same fresh file, so retry until the timeout."""
        deadline = time.monotonic() + self.busy_timeout_s
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Version 1 keyed a run without its data hash, so a rebuilt data set's runs replaced the
    old version's (and, on resume, were skipped as done). Rebuild ``runs`` with the wider key,
    keeping every row (SQLite's recipe for changing a constraint: foreign keys off, copy,
    drop, rename), and create the views again: every view is dropped first, since a view over
    the old ``runs`` would stop the rename."""
    conn.execute("PRAGMA foreign_keys=OFF")  # else dropping runs would cascade to figures
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] == 1:  # another process may have done it
            conn.execute(RUNS.create("sqlite", name="runs_v2"))
            conn.execute("INSERT INTO runs_v2 SELECT * FROM runs")
            views = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")]
            for view in views:
                conn.execute(f'DROP VIEW IF EXISTS "{view}"')
            conn.execute("DROP TABLE runs")
            conn.execute("ALTER TABLE runs_v2 RENAME TO runs")
            if conn.execute("PRAGMA foreign_key_check").fetchall():
                raise RuntimeError("results store migration left figures without their run")
            for statement in create_statements("sqlite"):
                conn.execute(statement)
            conn.execute("PRAGMA user_version=2")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("PRAGMA foreign_keys=ON")
