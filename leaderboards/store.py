"""The results store: one SQLite file that every figure of every run lands in.

Leaderboards are views of this store and nothing else, so each figure carries its
provenance: config (and its hash), seed, data hash, git revision, package versions, device
and wall time. The file is opened in WAL mode so that many writers (sweep agents, DDP ranks,
parallel test processes) and readers can share it; a run's figures are written in a single
``BEGIN IMMEDIATE`` transaction, so a writer killed half way leaves no partial run behind.

A run is identified by its *key* - (method, protocol, dataset, split, seed, config hash) -
and writing the same key twice replaces the earlier run (or, on request, is rejected);
it is never duplicated.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from core.errors import ModelprintError
from core.hashing import config_hash

SCHEMA_VERSION = 2  # 2: the data hash is part of a run's key

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id           TEXT PRIMARY KEY,
    method           TEXT NOT NULL,
    protocol         TEXT NOT NULL,
    dataset          TEXT NOT NULL,
    split            TEXT NOT NULL,
    seed             INTEGER NOT NULL,
    config_hash      TEXT NOT NULL,
    config_json      TEXT NOT NULL,
    data_hash        TEXT NOT NULL,
    git_sha          TEXT NOT NULL,
    package_versions TEXT NOT NULL,
    device           TEXT NOT NULL,
    wall_time_s      REAL NOT NULL,
    details_json     TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (method, protocol, dataset, split, seed, config_hash, data_hash)
);
CREATE TABLE IF NOT EXISTS figures (
    run_id  TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    metric  TEXT NOT NULL,
    value   REAL NOT NULL,
    ci_low  REAL,
    ci_high REAL,
    PRIMARY KEY (run_id, metric)
);
CREATE VIEW IF NOT EXISTS figure_rows AS
    SELECT r.run_id, r.method, r.protocol, r.dataset, r.split, r.seed, f.metric, f.value,
           f.ci_low, f.ci_high, r.config_hash, r.data_hash, r.git_sha, r.package_versions,
           r.device, r.wall_time_s, r.created_at, r.details_json
    FROM figures AS f JOIN runs AS r USING (run_id);
-- the figures of each data set's current version: the data hash that appeared last (a late
-- run on an older version does not make that version current again)
CREATE VIEW IF NOT EXISTS current_figure_rows AS
    SELECT * FROM figure_rows AS fr
    WHERE fr.data_hash = (
        SELECT r.data_hash FROM runs AS r WHERE r.dataset = fr.dataset
        GROUP BY r.data_hash ORDER BY MIN(r.created_at) DESC, MIN(r.rowid) DESC LIMIT 1
    );
"""

RUN_COLUMNS = (
    "run_id",
    "method",
    "protocol",
    "dataset",
    "split",
    "seed",
    "config_hash",
    "config_json",
    "data_hash",
    "git_sha",
    "package_versions",
    "device",
    "wall_time_s",
    "details_json",
    "created_at",
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


@dataclass(frozen=True)
class RunKey:
    """What makes two runs 'the same run' for resume and de-duplication."""

    method: str
    protocol: str
    dataset: str
    split: str
    seed: int
    config_hash: str
    data_hash: str


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


class ResultsStore:
    """A handle on one results-store file; cheap to create, safe to share across processes.

    Example:
        >>> import tempfile, pathlib
        >>> store = ResultsStore(pathlib.Path(tempfile.mkdtemp()) / "r.sqlite")
        >>> run = RunRecord("spectral", "closed_set", "zoo", "known", 0, {"lr": 0.1}, "d1",
        ...                 "abc", {}, "cpu", 1.0)
        >>> _ = store.write_run(run, [Figure("accuracy", 0.75, 0.7, 0.8)])
        >>> [(row["method"], row["metric"], row["value"]) for row in store.figure_rows()]
        [('spectral', 'accuracy', 0.75)]
    """

    #: the column that orders runs written in the same second (the current-version rule's tie-break)
    row_order = "rowid"

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 120.0, readonly: bool = False) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.readonly = readonly
        self._uri = f"file:{self.path.resolve()}?mode=ro" if readonly else None
        try:
            self._open()
        except sqlite3.DatabaseError as error:
            raise self._damaged(error) from None

    def _damaged(self, error: sqlite3.DatabaseError) -> StoreError:
        """A damaged, unreadable or unwritable file: one line with SQLite's answer, never an
        overwrite."""
        if isinstance(error, sqlite3.OperationalError) and any(
            words in str(error) for words in ("readonly", "read-only", "unable to open")
        ):
            return StoreError(
                f"results store {self.path} cannot be written ({error}); nothing was run - "
                "make it writable, or point MODELPRINT_RESULTS at a writable file"
            )
        answer = self._integrity_answer()
        return StoreError(
            f"results store {self.path} cannot be used ({error}"
            + (f"; PRAGMA integrity_check: {answer}" if answer else "")
            + "); it is left as it is - restore it from a copy, or point MODELPRINT_RESULTS at a new file"
        )

    def _integrity_answer(self) -> str:
        """SQLite's own account of the damage (first lines of ``PRAGMA integrity_check``), or
        what stops it from giving one."""
        try:
            with self._connect() as conn:
                answer = [row[0] for row in conn.execute("PRAGMA integrity_check(5)").fetchall()]
        except sqlite3.DatabaseError as error:
            return f"cannot run ({error})"
        return "; ".join(answer)

    def check(self) -> list[str]:
        """Every problem found, one line each (empty: the store is sound): SQLite's integrity
        check, runs without figures, figures without a run, and cells with splits missing."""
        answer = self._integrity_answer()
        if answer != "ok":
            return [f"PRAGMA integrity_check: {answer}"]
        with self._connect() as conn:
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
        return problems + [note for _, note in self.incomplete_cells()]

    def _open(self) -> None:
        if self.readonly:
            self._open_readonly()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            self._enable_wal(conn)
            conn.execute("BEGIN IMMEDIATE")  # two processes creating one store: one creates, one waits
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, 1, SCHEMA_VERSION):
                conn.execute("ROLLBACK")
                raise self._newer(version)
            if version == 1:
                conn.execute("ROLLBACK")
                _migrate_1_to_2(conn)
                conn.execute("BEGIN IMMEDIATE")
            if version != SCHEMA_VERSION:  # a new store, or one just migrated (its views dropped)
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")

    def _newer(self, version: int) -> StoreError:
        return StoreError(
            f"results store {self.path} has schema version {version}; this modelprint reads "
            f"version {SCHEMA_VERSION} - upgrade modelprint, or use a new store"
        )

    def _open_readonly(self) -> None:
        """Open for reading only (``modelprint board`` on a read-only mount): nothing is created
        or migrated. Where SQLite cannot even take its read locks there (a WAL store needs its
        ``-shm`` file), the file is read as immutable - a published store is checkpointed."""
        if not self.path.is_file():
            raise StoreError(f"no results store at {self.path}")
        try:
            with self._connect() as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                conn.execute("SELECT 1 FROM runs LIMIT 1").fetchall()
        except sqlite3.OperationalError:
            self._uri = f"file:{self.path.resolve()}?immutable=1"
            with self._connect() as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise (
                self._newer(version)
                if version > SCHEMA_VERSION
                else StoreError(
                    f"results store {self.path} has schema version {version}; open it once for writing "
                    "(modelprint run) to migrate it"
                )
            )

    def check_writable(self) -> None:
        """Refuse, before any work, a store that cannot take a run: damaged (SQLite's quick
        check), read-only (file, folder or mount), or opened for reading only."""
        if self.readonly:
            raise StoreError(f"results store {self.path} was opened for reading only")
        try:
            with self._connect() as conn:
                answer = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
                if answer != ["ok"]:
                    found = "; ".join(answer[:3])
                    raise StoreError(
                        f"results store {self.path} is damaged (PRAGMA quick_check: {found}); "
                        "restore it from a copy, or point MODELPRINT_RESULTS at a new file"
                    )
                conn.execute("BEGIN IMMEDIATE")
                try:  # a real write, rolled back: the only test SQLite answers truthfully
                    conn.execute("CREATE TABLE _write_probe (x)")
                finally:
                    conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as error:
            raise self._damaged(error) from None

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

    def begin_write(self, conn: Any) -> None:
        """Open a write transaction that serialises writers (SQLite: take the write lock now,
        so two writers never interleave a key's check and insert)."""
        conn.execute("BEGIN IMMEDIATE")

    def json_field(self, column: str, path: str) -> str:
        """SQL for a dotted field of a JSON text column."""
        return f"json_extract({column}, '$.{path}')"

    def columns(self, conn: Any, table: str) -> set[str]:
        return {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}

    def connection(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A connection to the store's file, closed on exit (autocommit: callers open their own
        ``BEGIN IMMEDIATE`` transactions) - for tables kept beside the results, such as claims."""
        return self._connect()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
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
        the store holds all of them or none (the board never shows part of a cell)."""
        ids = []
        with self._connect() as conn:
            self.begin_write(conn)
            try:
                for run, figures in runs:
                    self._insert(conn, run, figures, on_conflict)
                    ids.append(run.run_id)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return ids

    def _insert(
        self,
        conn: sqlite3.Connection,
        run: RunRecord,
        figures: Iterable[Figure],
        on_conflict: Literal["replace", "reject"],
    ) -> None:
        key = run.key
        existing = conn.execute(f"SELECT run_id FROM runs WHERE {_KEY_WHERE}", _key_tuple(key)).fetchone()
        if existing is not None:
            if on_conflict == "reject":
                raise RunExistsError(f"run {key} already in {self.path}")
            conn.execute("DELETE FROM runs WHERE run_id=?", (existing["run_id"],))
        conn.execute(
            f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})",
            (
                run.run_id,
                *_key_tuple(key)[:-1],  # the key's columns but its last, the data hash
                json.dumps(run.config, sort_keys=True, default=str),
                run.data_hash,
                run.git_sha,
                json.dumps(run.package_versions, sort_keys=True),
                run.device,
                float(run.wall_time_s),
                json.dumps(run.details, sort_keys=True, default=str),
                datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
        count = 0
        for fig in figures:
            conn.execute(
                "INSERT INTO figures VALUES (?,?,?,?,?)",
                (run.run_id, fig.metric, float(fig.value), fig.ci_low, fig.ci_high),
            )
            count += 1
        if count == 0:
            raise ValueError(f"run {key} has no figures; refusing to record an empty run")

    def has_run(self, key: RunKey) -> bool:
        """Whether a run with this key is recorded (the runner's resume check)."""
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT 1 FROM runs WHERE {_KEY_WHERE}",
                _key_tuple(key),
            ).fetchone()
        return row is not None

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

        Only figures on each data set's current version (the data hash that appeared last) and
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
        rows = [  # the current_figure_rows view, decided once per data set instead of once per row
            row
            for row in self._select("figure_rows", filters)
            if current.get(row["dataset"]) == row["data_hash"]
            and _cell(row) not in incomplete
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
        """Each data set's current version: the data hash that appeared last (the rule of the
        ``current_figure_rows`` view, whose per-row subquery took 20 s on the published store)."""
        with self._connect() as conn:
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
        them. Runs whose config has no ``dataset_args`` (the studies) are not judged."""
        current: dict[str, str] = {}
        options: dict[str, tuple[str, str]] = {}
        for run in self.runs():  # ordered by creation
            config = json.loads(run["config_json"])
            if isinstance(config, dict) and "dataset_args" in config:
                text = json.dumps(config["dataset_args"], sort_keys=True)
                current[run["dataset"]] = text
                options[run["run_id"]] = (run["dataset"], text)
        return {run_id for run_id, (dataset, text) in options.items() if current[dataset] != text}

    def incomplete_cells(self) -> list[tuple[tuple[Any, ...], str]]:
        """Cells (method, protocol, data set, seed, config and data hash) that lack some of the
        splits they report on, each with a note saying which. A run records its cell's splits
        (``cell_splits``); runs of older stores that do not are held to the subsets their
        recorded protocol arguments name (open set's ``subsets``), else to what is there. The
        runner writes a cell in one transaction, so only stores written otherwise hold such
        cells - a kill between the open-set subsets' separate writes left them."""
        with self._connect() as conn:
            runs = conn.execute(
                "SELECT method, protocol, dataset, seed, config_hash, data_hash, split, "
                f"{self.json_field('details_json', 'cell_splits')} AS cell_splits, "
                f"{self.json_field('config_json', 'protocol_args.subsets')} AS subsets FROM runs"
            ).fetchall()
        expected: dict[tuple[Any, ...], set[str]] = {}
        present: dict[tuple[Any, ...], set[str]] = {}
        for run in runs:
            cell = _cell(run)
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
        with self._connect() as conn:
            columns = self.columns(conn, table)
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


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Version 1 keyed a run without its data hash, so a rebuilt data set's runs replaced the
    old version's (and, on resume, were skipped as done). Rebuild ``runs`` with the wider key,
    keeping every row (SQLite's recipe for changing a constraint: foreign keys off, copy,
    drop, rename; the views are recreated by the schema script)."""
    create = _SCHEMA.split(";")[0].replace("CREATE TABLE IF NOT EXISTS runs (", "CREATE TABLE runs_v2 (")
    conn.execute("PRAGMA foreign_keys=OFF")  # else dropping runs would cascade to figures
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] == 1:  # another process may have done it
            conn.execute(create)
            conn.execute("INSERT INTO runs_v2 SELECT * FROM runs")
            for view in ("current_figure_rows", "figure_rows"):
                conn.execute(f"DROP VIEW IF EXISTS {view}")
            conn.execute("DROP TABLE runs")
            conn.execute("ALTER TABLE runs_v2 RENAME TO runs")
            if conn.execute("PRAGMA foreign_key_check").fetchall():
                raise RuntimeError("results store migration left figures without their run")
            conn.execute("PRAGMA user_version=2")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("PRAGMA foreign_keys=ON")


def _cell(row: dict[str, Any]) -> tuple[Any, ...]:
    """The benchmark cell a run belongs to: its key without the split."""
    return (row["method"], row["protocol"], row["dataset"], row["seed"], row["config_hash"], row["data_hash"])


_KEY_WHERE = " AND ".join(f"{name}=?" for name in RunKey.__dataclass_fields__)


def _key_tuple(key: RunKey) -> tuple[Any, ...]:
    return tuple(asdict(key).values())


def open_store(location: str | Path | None = None, *, readonly: bool = False) -> ResultsStore:
    """The results store at ``location`` (default: ``$MODELPRINT_RESULTS``): a SQLite file for
    one machine, or a ``postgresql://`` URL for many (:mod:`leaderboards.postgres_store`)."""
    from core.paths import results_store_location

    location = results_store_location() if location is None else location
    if isinstance(location, str) and location.startswith(("postgresql://", "postgres://")):
        from leaderboards.postgres_store import PostgresStore

        return PostgresStore(location, readonly=readonly)
    path = Path(location)
    if readonly and not path.is_file():
        raise StoreError(f"no results store at {path}")
    return ResultsStore(path, readonly=readonly)
