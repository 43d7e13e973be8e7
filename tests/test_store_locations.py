"""The results store's location and what its runs record about where data was read from."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.cli import main
from leaderboards.store import Figure, ResultsStore
from tests.test_store import make_run


def test_runs_that_differ_only_in_where_their_data_was_read_are_all_current(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    for seed, path in enumerate(["base", "/abs/base", "/node-b/scratch/base/"]):
        store.write_run(
            make_run(seed, dataset_args={"path": path, "known": "None"}), [Figure("accuracy", 0.5)]
        )
    assert store.runs_on_former_options() == set()
    store.write_run(make_run(3, dataset_args={"path": "base", "known": "[g1]"}), [Figure("accuracy", 0.5)])
    assert len(store.runs_on_former_options()) == 3  # what is read changed: the older runs are history


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg://bob:s3cret@db/x", "postgress://bob:s3cret@db/x", "sqlite:///tmp/x.sqlite"]
)
def test_a_store_url_of_unknown_scheme_is_one_line_without_its_password(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELPRINT_RESULTS", url)
    assert main(["run", "--methods=[spectral]", "--protocols=[closed_set]"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown database URL scheme" in err and "s3cret" not in err
    assert not list(tmp_path.iterdir())  # nothing written locally
