"""The results store: atomic runs, no duplicates, safe under concurrent and killed writers."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.hashing import config_hash
from leaderboards.store import SCHEMA_VERSION, Figure, ResultsStore, RunExistsError, RunRecord


def make_run(
    seed: int = 0, method: str = "spectral", data_hash: str = "data123", **config: object
) -> RunRecord:
    return RunRecord(
        method=method,
        protocol="closed_set",
        dataset="zoo",
        split="known",
        seed=seed,
        config=dict(config),
        data_hash=data_hash,
        git_sha="abc",
        package_versions={"torch": "2.13.0"},
        device="cpu",
        wall_time_s=1.5,
        details={"weights": "random init"},
    )


def test_round_trip_keeps_every_provenance_field(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    run = make_run(seed=3, lr=0.1)
    store.write_run(run, [Figure("accuracy", 0.5, 0.4, 0.6), Figure("macro_f1", 0.45)])
    rows = store.figure_rows(metric="accuracy")
    assert len(rows) == 1
    row = rows[0]
    assert (row["method"], row["protocol"], row["dataset"], row["split"], row["seed"]) == (
        "spectral",
        "closed_set",
        "zoo",
        "known",
        3,
    )
    assert (row["value"], row["ci_low"], row["ci_high"]) == (0.5, 0.4, 0.6)
    assert row["config_hash"] == config_hash({"lr": 0.1})
    assert (row["data_hash"], row["git_sha"], row["device"], row["wall_time_s"]) == (
        "data123",
        "abc",
        "cpu",
        1.5,
    )
    assert '"torch": "2.13.0"' in row["package_versions"] and row["created_at"]
    assert store.figure_rows(metric="macro_f1")[0]["ci_low"] is None


def test_journal_mode_is_wal(tmp_path: Path) -> None:
    import sqlite3

    ResultsStore(tmp_path / "r.sqlite")
    mode = sqlite3.connect(tmp_path / "r.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_same_key_is_replaced_not_duplicated(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    store.write_run(make_run(lr=0.1), [Figure("accuracy", 0.5)])
    second = store.write_run(make_run(lr=0.1), [Figure("accuracy", 0.7)])
    rows = store.figure_rows()
    assert [(r["run_id"], r["value"]) for r in rows] == [(second, 0.7)]
    store.write_run(make_run(lr=0.2), [Figure("accuracy", 0.1)])  # another config: another run
    assert len(store.runs()) == 2


def test_same_key_can_be_rejected(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    store.write_run(make_run(), [Figure("accuracy", 0.5)])
    with pytest.raises(RunExistsError):
        store.write_run(make_run(), [Figure("accuracy", 0.9)], on_conflict="reject")
    assert [r["value"] for r in store.figure_rows()] == [0.5]


def test_a_run_without_figures_or_failing_midway_leaves_nothing(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    with pytest.raises(ValueError, match="no figures"):
        store.write_run(make_run(), [])

    def failing() -> Iterator[Figure]:
        yield Figure("accuracy", 0.5)
        raise RuntimeError("metric crashed")

    with pytest.raises(RuntimeError):
        store.write_run(make_run(seed=1), failing())
    assert store.runs() == [] and store.figure_rows() == []
    assert not store.has_run(make_run(seed=1).key)


def test_unknown_filter_column_names_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown column"):
        ResultsStore(tmp_path / "r.sqlite").figure_rows(methd="x")


def _writer(path: str, worker: int, runs: int) -> None:
    store = ResultsStore(path)
    for i in range(runs):
        store.write_run(
            make_run(seed=i, method=f"m{worker}"), [Figure("accuracy", i / runs), Figure("f1", 0.5)]
        )


def test_two_processes_writing_concurrently_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sqlite")
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(path, w, 40)) for w in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    store = ResultsStore(path)
    assert len(store.runs()) == 80
    assert len(store.figure_rows()) == 160
    assert {r["method"] for r in store.runs()} == {"m0", "m1"}


def _killed_writer(path: str, started: str) -> None:
    def figures() -> Iterator[Figure]:
        yield Figure("accuracy", 0.5)
        yield Figure("f1", 0.4)
        Path(started).touch()  # the run row and two figures are written, not committed
        time.sleep(600)
        yield Figure("never", 0.0)

    ResultsStore(path).write_run(make_run(seed=7), figures())


def test_a_writer_killed_mid_run_leaves_no_partial_run(tmp_path: Path) -> None:
    path, started = str(tmp_path / "r.sqlite"), tmp_path / "started"
    ResultsStore(path).write_run(make_run(seed=1), [Figure("accuracy", 0.9)])
    proc = mp.get_context("spawn").Process(target=_killed_writer, args=(path, str(started)))
    proc.start()
    deadline = time.time() + 60
    while not started.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert started.exists(), "writer never reached the middle of its transaction"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    store = ResultsStore(path)  # the lock died with the writer: the store is writable again
    assert [r["seed"] for r in store.runs()] == [1]
    assert len(store.figure_rows()) == 1
    store.write_run(make_run(seed=7), [Figure("accuracy", 0.3)])
    assert len(store.runs()) == 2


def test_a_rebuilt_data_set_is_a_new_run_and_boards_read_only_its_current_version(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    old = store.write_run(make_run(data_hash="zoo-v1"), [Figure("accuracy", 0.9)])
    assert not store.has_run(make_run(data_hash="zoo-v2").key)  # resume would rerun it
    time.sleep(1.1)  # created_at has one-second resolution
    new = store.write_run(make_run(data_hash="zoo-v2"), [Figure("accuracy", 0.6)])
    store.write_run(make_run(method="other", data_hash="zoo-v1"), [Figure("accuracy", 0.3)])  # late, old data
    synthetic = make_run(method="trainer", data_hash="synthetic-1")
    synthetic.dataset = "synthetic:paper"
    store.write_run(synthetic, [Figure("accuracy", 0.1)])
    assert {r["run_id"] for r in store.runs()} >= {old, new}  # nothing replaced
    current = [(r["method"], r["dataset"], r["value"]) for r in store.figure_rows()]
    assert sorted(current) == [("spectral", "zoo", 0.6), ("trainer", "synthetic:paper", 0.1)]
    assert len(store.figure_rows(every_data_version=True)) == 4


def test_a_version_1_store_is_migrated_keeping_every_run(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as conn:  # the version-1 layout: runs keyed without the data hash
        conn.executescript(
            """
            CREATE TABLE runs (run_id TEXT PRIMARY KEY, method TEXT NOT NULL, protocol TEXT NOT NULL,
                dataset TEXT NOT NULL, split TEXT NOT NULL, seed INTEGER NOT NULL,
                config_hash TEXT NOT NULL, config_json TEXT NOT NULL, data_hash TEXT NOT NULL,
                git_sha TEXT NOT NULL, package_versions TEXT NOT NULL, device TEXT NOT NULL,
                wall_time_s REAL NOT NULL, details_json TEXT NOT NULL, created_at TEXT NOT NULL,
                UNIQUE (method, protocol, dataset, split, seed, config_hash));
            CREATE TABLE figures (run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
                metric TEXT NOT NULL, value REAL NOT NULL, ci_low REAL, ci_high REAL,
                PRIMARY KEY (run_id, metric));
            CREATE VIEW figure_rows AS SELECT r.run_id, r.method, r.protocol, r.dataset, r.split, r.seed,
                f.metric, f.value, f.ci_low, f.ci_high, r.config_hash, r.data_hash, r.git_sha,
                r.package_versions, r.device, r.wall_time_s, r.created_at, r.details_json
                FROM figures AS f JOIN runs AS r USING (run_id);
            INSERT INTO runs VALUES ('r1', 'spectral', 'closed_set', 'zoo', 'known', 0, 'c', '{}', 'zoo-v1',
                'abc', '{}', 'cpu', 1.0, '{}', '2026-01-01T00:00:00+00:00');
            INSERT INTO figures VALUES ('r1', 'accuracy', 0.9, 0.8, 1.0),
                ('r1', 'macro_f1', 0.85, NULL, NULL);
            PRAGMA user_version=1;
            """
        )
    conn.close()
    store = ResultsStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert "data_hash)" in conn.execute("SELECT sql FROM sqlite_master WHERE name='runs'").fetchone()[0]
    conn.close()
    figures = sorted((r["metric"], r["value"]) for r in store.figure_rows())
    assert figures == [("accuracy", 0.9), ("macro_f1", 0.85)]
    run = make_run(data_hash="zoo-v2")
    run.config = {}
    store.write_run(run, [Figure("accuracy", 0.5)])  # same key but the data hash: kept apart
    assert len(store.runs()) == 2 and [r["value"] for r in store.figure_rows(metric="accuracy")] == [0.5]
    ResultsStore(path)  # opening a migrated store again changes nothing
    assert len(store.figure_rows(every_data_version=True)) == 3


@pytest.mark.parametrize("old_lr,new_lr", [(0.1, 0.2), (0.2, 0.1)])
def test_boards_read_each_cells_latest_configuration_only(
    tmp_path: Path, old_lr: float, new_lr: float
) -> None:
    """A cell re-run under a changed configuration shows its new figure, never an average with
    the stale one - nor with another seed's run under the old configuration (that seed drops
    out until it is run again); the old runs stay in the store. Runs of one second (the
    store's clock) are told apart by the order of writing, whichever configuration hash or
    run id sorts first."""
    store = ResultsStore(tmp_path / "r.sqlite")
    store.write_run(make_run(seed=1, lr=old_lr), [Figure("accuracy", 0.7)])
    store.write_run(make_run(lr=old_lr), [Figure("accuracy", 0.5)])
    store.write_run(make_run(lr=new_lr), [Figure("accuracy", 0.9)])
    assert sorted(r["value"] for r in store.figure_rows(metric="accuracy")) == [0.9]
    assert len(store.figure_rows(every_data_version=True)) == 3


def test_the_run_key_is_written_once_and_derived_everywhere(tmp_path: Path) -> None:
    """The key's fields are the table's UNIQUE constraint, the store's look-ups and a cell's text
    id (the key without its split, in the key's order)."""
    import inspect

    from leaderboards.schema import CELL_KEY, RUN_KEY, RUNS, RunKey

    run = make_run(seed=3, lr=0.1)
    key = run.key
    assert RUN_KEY == ("method", "protocol", "dataset", "split", "seed", "config_hash", "data_hash")
    assert f"UNIQUE ({', '.join(RUN_KEY)})" in RUNS.create("sqlite")
    assert tuple(name for name in RUN_KEY if name != "split") == CELL_KEY
    assert tuple(inspect.signature(RunKey.cell_id).parameters) == CELL_KEY
    assert RunKey.cell_id(*RunKey.cell_of(vars(key))) == "|".join(map(str, RunKey.cell_of(vars(key))))
    assert RunKey.cell_id("m", "closed_set", "zoo", 3, "c1", "d1") == "m|closed_set|zoo|3|c1|d1"
    store = ResultsStore(tmp_path / "r.sqlite")
    store.write_run(run, [Figure("accuracy", 0.5)])
    (row,) = store.runs()
    assert RunKey.of(row) == key and key.values() == tuple(row[name] for name in RUN_KEY)
    assert store.has_run(key) and list(store.runs_with_figures()) == [key]


def test_a_store_holding_the_former_view_opens_and_reads_as_before(tmp_path: Path) -> None:
    """Stores written before ``current_figure_rows`` went (the published one) keep that view:
    opening them - for reading or writing - neither needs nor changes it; new stores lack it."""
    path = tmp_path / "r.sqlite"
    ResultsStore(path).write_run(make_run(), [Figure("accuracy", 0.5)])
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE VIEW current_figure_rows AS SELECT * FROM figure_rows")
    conn.close()
    ResultsStore(path, readonly=True)
    store = ResultsStore(path)
    store.write_run(make_run(seed=1), [Figure("accuracy", 0.7)])
    assert [r["value"] for r in ResultsStore(path, readonly=True).figure_rows()] == [0.5, 0.7]
    with sqlite3.connect(path) as conn:
        views = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
    conn.close()
    assert views == {"figure_rows", "current_figure_rows"}
    fresh = tmp_path / "new.sqlite"
    ResultsStore(fresh)
    with sqlite3.connect(fresh) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")] == [
            "figure_rows"
        ]
    conn.close()


def test_no_store_backend_imports_another() -> None:
    """The SQLite store and the PostgreSQL dialect share only the schema; choosing between them
    is the package's (``leaderboards.open_store``), so no import circle runs through them."""
    import ast

    import leaderboards

    root = Path(leaderboards.__file__).parent
    for backend in ("store.py", "postgres_store.py"):
        tree = ast.parse((root / backend).read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("leaderboards")
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
            if alias.name.startswith("leaderboards")
        }
        assert imported <= {"leaderboards.schema"}, f"{backend} imports {sorted(imported)}"
