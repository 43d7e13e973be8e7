"""The results store's guarantees on both backends - SQLite (one machine) and a real PostgreSQL
server started for this session (``pgserver``: a self-contained server wheel, no root) - and
the PostgreSQL-only failure: a connection dropped mid-write. Skipped, with the reason, only
where no server can start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.fabricated  # noqa: F401 - registers the "fabricated" data set
from benchmarks.cli import main
from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.runner import run_benchmark
from leaderboards import Figure, ResultsStore, RunRecord, StoreError, open_store
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server for the session; yields its admin URL."""
    try:
        import pgserver

        server = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    except Exception as error:  # no wheel for this platform, no shared memory, ...
        pytest.skip(f"no PostgreSQL server could start here: {error}")
    yield server.get_uri()
    server.cleanup()


def fresh_database(admin_url: str) -> str:
    import psycopg

    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.replace("/postgres?", f"/{name}?")


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "r.sqlite")
    return fresh_database(request.getfixturevalue("postgres_server"))


def record(seed: int = 0, method: str = "spectral", dataset: str = "zoo", data_hash: str = "d1") -> RunRecord:
    return RunRecord(
        method, "closed_set", dataset, "known_test", seed, {"x": 1}, data_hash, "sha", {}, "cpu", 1.0
    )


def store_at(location: str) -> ResultsStore:
    return open_store(location if location.startswith("postgres") else Path(location))


def test_the_same_guarantees_on_both_backends(location: str) -> None:
    store = store_at(location)
    run_id = store.write_run(record(), [Figure("accuracy", 0.123456789012, 0.1, 0.2)])
    (row,) = store.figure_rows()
    assert row["value"] == 0.123456789012 and row["run_id"] == run_id  # double precision
    store.write_run(record(), [Figure("accuracy", 0.5)])  # same key: replaced, not duplicated
    assert [r["value"] for r in store.figure_rows()] == [0.5] and len(store.runs()) == 1
    store.write_run(record(data_hash="d2"), [Figure("accuracy", 0.7)])  # a rebuilt data set
    assert [r["value"] for r in store.figure_rows()] == [0.7]  # current version only
    assert len(store.figure_rows(every_data_version=True)) == 2
    half = RunRecord("m", "open_set", "zoo", "unseen_seed", 0, {}, "d2", "s", {}, "cpu", 1.0)
    half.details = {"cell_splits": ["unseen_seed", "unseen_all"]}
    store.write_run(half, [Figure("auroc", 0.6)])
    (note,) = [note for _, note in store.incomplete_cells()]
    assert note.startswith("m / open_set / zoo / seed 0: only")
    assert any("only ['unseen_seed']" in problem for problem in store.check())
    with pytest.raises(ValueError, match="no figures"):
        store.write_run(record(seed=9), [])
    assert not store.has_run(record(seed=9).key)  # the failed write left nothing


WRITER = """
import sys, time
from leaderboards import Figure, RunRecord, open_store
from pathlib import Path
location, seed, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
store = open_store(location if location.startswith("postgres") else Path(location))
run = RunRecord("spectral", "closed_set", "zoo", "known_test", seed, {"x": 1}, "d1", "sha", {}, "cpu", 1.0)
def figures():
    yield Figure("accuracy", 0.5)
    print("writing", flush=True)
    time.sleep(pause)  # inside the transaction
    yield Figure("macro_f1", 0.4)
store.write_run(run, figures())
print("done", flush=True)
"""


def writer(location: str, seed: int, pause: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, location, str(seed), str(pause)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_eight_writers_of_different_cells_and_two_of_one_key(location: str) -> None:
    store_at(location)  # created once, as the first run would
    procs = [writer(location, seed) for seed in range(8)] + [writer(location, 0) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    runs = store_at(location).runs()
    assert sorted(r["seed"] for r in runs) == list(range(8))  # seed 0 written three times, kept once
    assert len(store_at(location).figure_rows()) == 16


def test_a_writer_killed_mid_transaction_leaves_no_partial_run(location: str) -> None:
    store_at(location)
    proc = writer(location, 5, pause=60)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.5)  # the server notices the closed socket and rolls back
    store = store_at(location)
    assert store.runs() == [] and store.figure_rows(every_data_version=True) == []
    assert store.check() == []


def test_a_dropped_connection_mid_write_is_one_line_and_the_cell_runs_again(
    postgres_server: str, tmp_path: Path
) -> None:
    import psycopg

    url = fresh_database(postgres_server)
    store = store_at(url)
    proc = writer(url, 3, pause=3)  # the writer notices when it next speaks to the server
    assert proc.stdout.readline().strip() == "writing"
    with psycopg.connect(url, autocommit=True) as admin:  # the server drops the writer's connection
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "StoreError" in err and "nothing was recorded from this attempt" in err
    assert store.runs() == []
    assert writer(url, 3).wait(timeout=60) == 0 and len(store.runs()) == 1  # the rerun records it


def test_the_benchmark_board_claims_and_merge_on_postgresql(
    postgres_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fresh_database(postgres_server)
    monkeypatch.setenv("MODELPRINT_RESULTS", url)
    monkeypatch.setenv("MODELPRINT_WANDB", "off")
    plan = BenchmarkConfig(
        methods=["spectral"], protocols=["closed_set", "open_set"], dataset="fabricated", bootstrap_samples=0
    )
    summary = run_benchmark(plan, open_store(url), FeatureCache(tmp_path / "cache"))
    assert summary.ran == 2
    assert run_benchmark(plan, open_store(url), FeatureCache(tmp_path / "cache")).skipped == 2
    assert main(["board", f"--out={tmp_path / 'board'}"]) == 0
    assert "spectral" in (tmp_path / "board" / "board.md").read_text()
    runs = len(open_store(url).runs())
    assert main(["store", "check"]) == 0 and f"ok ({runs} runs" in capsys.readouterr().out
    local = ResultsStore(tmp_path / "local.sqlite")
    local.write_run(record(seed=4, method="noise_residual"), [Figure("accuracy", 0.3)])
    assert main(["store", "merge", f"--sources=[{local.path}]"]) == 0
    assert len(open_store(url).runs()) == runs + 1
    # and the other way: the server as the source, named by its URL alone
    monkeypatch.setenv("MODELPRINT_RESULTS", str(tmp_path / "copy.sqlite"))
    assert main(["store", "merge", f"--sources={url}"]) == 0
    assert len(ResultsStore(tmp_path / "copy.sqlite").runs()) == runs + 1


def test_an_unreachable_server_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPRINT_RESULTS", "postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    assert main(["store", "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot be used" in err and "secret" not in err
    with pytest.raises(StoreError):
        open_store("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")


def test_bad_urls_credentials_and_a_newer_schema_are_one_line_with_nothing_written(
    postgres_server: str,
) -> None:
    import psycopg

    with pytest.raises(StoreError, match="cannot be used"):
        open_store("postgresql://[not a host/x")
    with pytest.raises(StoreError, match="cannot be used"):
        open_store(postgres_server.replace("postgres:@", "nobody:wrong@"))
    url = fresh_database(postgres_server)
    store_at(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE modelprint_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99"):
        open_store(url)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
