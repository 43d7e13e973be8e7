"""Leaderboards render from the store only: averaging, best-by-direction, escaping, plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tests.fabricated  # noqa: F401 - registers the 'fabricated' data set
from benchmarks.cli import main
from benchmarks.config import BenchmarkConfig
from benchmarks.feature_cache import FeatureCache
from benchmarks.runner import run_benchmark
from leaderboards.plots import plot_confusions
from leaderboards.render import to_html, to_latex, to_markdown, write_all
from leaderboards.store import Figure, ResultsStore, RunRecord
from leaderboards.tables import build_tables, higher_is_better


def record(
    store: ResultsStore,
    method: str,
    seed: int,
    figures: list[Figure],
    protocol: str = "closed_set",
    weights: str = "random init",
) -> None:
    run = RunRecord(
        method,
        protocol,
        "zoo",
        "known_test",
        seed,
        {"m": method},
        "d0",
        "abc123",
        {},
        "cpu",
        1.0,
        {"weights": weights},
    )
    store.write_run(run, figures)


def test_seeds_are_averaged_and_best_follows_higher_is_better(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    record(store, "a", 0, [Figure("accuracy", 0.4, 0.3, 0.5), Figure("ffd", 10.0)])
    record(store, "a", 1, [Figure("accuracy", 0.6, 0.5, 0.7), Figure("ffd", 12.0)])
    record(store, "b", 0, [Figure("accuracy", 0.55, 0.5, 0.6), Figure("ffd", 5.0)])
    (table,) = build_tables(store)
    a = next(r for r in table.rows if r.method == "a")
    assert a.cells["accuracy"].value == pytest.approx(0.5) and a.seeds == [0, 1]
    assert a.cells["accuracy"].ci_low == pytest.approx(0.4)
    assert higher_is_better("accuracy") and not higher_is_better("ffd") and not higher_is_better("train_loss")
    assert table.best("accuracy") == "b" and table.best("ffd") == "b"
    markdown = to_markdown([table])
    assert "**0.550 ± 0.050**" in markdown and "| a | 0.500 ± 0.100 |" in markdown
    assert "ffd ↓" in markdown and "accuracy ↑" in markdown


def test_a_row_says_which_seeds_used_which_weights(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    record(store, "pose", 0, [Figure("accuracy", 0.8)], weights="shipped weights 80b9ea8b2e556586")
    record(store, "pose", 1, [Figure("accuracy", 0.7)], weights="trained here e75b38ebb787a22a")
    record(store, "pose", 2, [Figure("accuracy", 0.9)], weights="trained here 0123456789abcdef")
    record(store, "spectral", 0, [Figure("accuracy", 0.8)], weights="n/a")
    record(store, "spectral", 1, [Figure("accuracy", 0.8)], weights="n/a")
    on = "trained on the known real generators"
    record(store, "cnn", 0, [Figure("accuracy", 0.8)], weights=f"{on}: shipped weights 80b9ea8b2e556586")
    record(store, "cnn", 1, [Figure("accuracy", 0.7)], weights=f"{on}: trained here e75b38ebb787a22a")
    record(store, "mixed", 0, [Figure("accuracy", 0.8)], weights=f"{on}: shipped weights 80b9ea8b2e556586")
    record(store, "mixed", 1, [Figure("accuracy", 0.7)], weights="random init (control)")
    (table,) = build_tables(store)
    weights = {row.method: row.provenance["weights"] for row in table.rows}
    assert weights == {
        "pose": "shipped weights 80b9ea8b2e556586 (seed 0); trained here (seeds 1, 2)",
        "spectral": "n/a",
        "cnn": f"{on}: shipped weights 80b9ea8b2e556586 (seed 0); trained here e75b38ebb787a22a (seed 1)",
        "mixed": f"{on}: shipped weights 80b9ea8b2e556586 (seed 0); random init (control) (seed 1)",
    }


def test_plots_draw_only_the_runs_whose_figures_the_board_shows(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    details = {"confusion_matrix": [[3, 1], [0, 4]], "generators": ["g0", "g1"]}
    # the data set's options changed within one second; the newer run has the smaller id, so
    # only the order of writing (never the random id) can tell which options are current
    for method, real, run_id in (("old", "False", "f" * 32), ("new", "True", "0" * 32)):
        config = {"m": method, "dataset_args": {"include_real": real}}
        run = RunRecord(
            method, "closed_set", "zoo", "known_test", 0, config, "d0", "abc", {}, "cpu", 1.0, details, run_id
        )
        store.write_run(run, [Figure("accuracy", 0.9)])
    assert [p.name for p in plot_confusions(store, tmp_path)] == ["confusion_new_zoo.png"]
    assert list(store.newest_current_runs(("method",), protocol="closed_set")) == [("new",)]


def test_html_is_escaped_sortable_and_self_contained(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    record(store, "<script>alert(1)</script>", 0, [Figure("accuracy", 0.5)])
    record(store, "b&c", 0, [Figure("accuracy", 0.7)])
    page = to_html(build_tables(store))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "b&amp;c" in page
    assert "addEventListener('click'" in page and "data-value='0.700000'" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page


def test_latex_escapes_special_characters(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    record(store, "clip_vit&probe", 0, [Figure("macro_f1", 0.5, 0.4, 0.6)])
    tex = to_latex(build_tables(store))
    assert r"clip\_vit\&probe" in tex and r"macro\_f1 $\uparrow$" in tex and r"0.500 $\pm$ 0.100" in tex


def test_board_from_a_real_run_writes_every_format_and_the_plots(tmp_path: Path, monkeypatch) -> None:
    store_path = tmp_path / "r.sqlite"
    monkeypatch.setenv("MODELPRINT_RESULTS", str(store_path))
    cfg = BenchmarkConfig(
        methods=["spectral"],
        dataset="fabricated",
        bootstrap_samples=10,
        protocol_args={
            "zero_shot": {
                "gallery_per_model": 5,
                "episodes": 2,
                "pairs_per_episode": 50,
                "validation_pairs": 50,
            }
        },
    )
    run_benchmark(cfg, ResultsStore(store_path), FeatureCache(tmp_path / "cache"))
    out = tmp_path / "board"
    assert main(["board", f"--out={out}"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"board.md", "board.csv", "board.json", "board.html", "board.tex"} <= names
    assert {
        "open_set_unseen_all_fabricated.png",
        "confusion_spectral_fabricated.png",
        "open_set_by_subset_fabricated.png",
    } <= names
    rows = json.loads((out / "board.json").read_text())
    assert {r["protocol"] for r in rows} == {"closed_set", "open_set", "zero_shot", "detection"}
    assert "fingerprint_map_spectral_fabricated.png" in names
    assert (
        "[fingerprint_map_spectral_fabricated](fingerprint_map_spectral_fabricated.png)"
        in (out / "board.md").read_text()
    )
    assert all(r["git_sha"] and r["data_hash"] == ["fabricated-v1"] for r in rows)
    page = (out / "board.html").read_text()
    assert page.count("data:image/png;base64,") == len([n for n in names if n.endswith(".png")])
    assert write_all(build_tables(ResultsStore(store_path)), tmp_path / "again")


def test_board_without_a_store_is_a_clear_error(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MODELPRINT_RESULTS", str(tmp_path / "none.sqlite"))
    assert main(["board", f"--out={tmp_path / 'b'}"]) == 2
    assert "no results store" in capsys.readouterr().err


def test_readme_splice_replaces_only_the_marked_section_and_refuses_without_markers(
    tmp_path: Path,
) -> None:
    from benchmarks.cli import UsageError
    from benchmarks.commands.board import README_END, README_START, splice_into_readme

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold table\n{README_END}\noutro\n")
    splice_into_readme(readme, "| new | table |\n")
    assert readme.read_text() == f"intro\n{README_START}\n\n| new | table |\n\n{README_END}\noutro\n"
    readme.write_text("no markers here\n")
    with pytest.raises(UsageError, match="board:start"):
        splice_into_readme(readme, "| x |")


def test_a_factorial_study_gets_a_main_effects_table(tmp_path: Path) -> None:
    """Each factor level's row is the mean over the variants holding it; computed from the store."""
    from leaderboards.tables import main_effects_tables

    store = ResultsStore(tmp_path / "r.sqlite")
    for (a, b), value in {("x", "u"): 0.2, ("x", "v"): 0.4, ("y", "u"): 0.6, ("y", "v"): 0.8}.items():
        run = RunRecord(
            f"variant[{a},{b}]",
            "flagship_ablation",
            "zoo",
            "unseen_all",
            0,
            {"v": a + b},
            "d0",
            "abc",
            {},
            "cpu",
            1.0,
            {"factors": {"first": a, "second": b}},
        )
        store.write_run(run, [Figure("identification_accuracy", value), Figure("verification_auroc", value)])
    [table] = main_effects_tables(store)
    means = {row.method: row.cells["identification_accuracy"].value for row in table.rows}
    assert means == pytest.approx({"first=x": 0.3, "first=y": 0.7, "second=u": 0.4, "second=v": 0.6})
    assert table.rows[0].provenance["weights"] == "mean of 2 variants"


def test_a_row_still_being_evaluated_leaves_the_others_delivered_figures(tmp_path: Path) -> None:
    """The selection table averages the delivered levels every complete row has; a row with no
    delivered figure yet on one side neither blanks the others nor gets a figure on a subset."""
    from leaderboards.tables import SELECTION_COLUMN, selection_tables

    store = ResultsStore(tmp_path / "r.sqlite")
    values = {"a": (0.7, 0.3, 0.5), "b": (0.6, 0.4, 0.2), "late": (0.9, 0.8, None)}
    for method, (clean, jpeg, blur) in values.items():
        for split in ("known_val", "unseen_all"):
            levels = {"": clean, "@jpeg:75": jpeg, "@blur:1": blur}
            if method == "late" and split == "unseen_all":
                levels = {"": clean}  # its delivered levels not evaluated yet
            for level, value in levels.items():
                if value is None:
                    continue
                run = RunRecord(
                    method, f"flagship_ablation_robust{level}", "zoo", split, 0, {"m": method, "l": level},
                    "d0", "abc123", {}, "cpu", 1.0, {},
                )  # fmt: skip
                store.write_run(run, [Figure("identification_accuracy", value)])
    [table] = selection_tables(store)
    rows = {r.method: r.cells for r in table.rows}
    assert rows["a"]["selection: delivered identification"].value == pytest.approx(0.4)  # jpeg and blur
    assert rows["a"][SELECTION_COLUMN].value == pytest.approx((0.7 + 0.4) / 2)
    assert rows["b"][SELECTION_COLUMN].value == pytest.approx((0.6 + 0.3) / 2)
    assert "selection: delivered identification" not in rows["late"], "jpeg alone is not the mean of both"
    assert SELECTION_COLUMN not in rows["late"] and "reported: delivered identification" not in rows["late"]
    assert table.rows[0].provenance["weights"] == "delivered = mean of blur:1, jpeg:75"


def test_a_study_recorded_on_the_selection_split_alone_has_its_delivered_figures(tmp_path: Path) -> None:
    """The standardised-in-folds comparison is recorded on known_val only: its selection side
    averages its delivered levels though no row has a reported side."""
    from leaderboards.tables import SELECTION_COLUMN, selection_tables

    store = ResultsStore(tmp_path / "r.sqlite")
    for method, (clean, jpeg) in {"a": (0.8, 0.4), "b": (0.7, 0.5)}.items():
        for level, value in {"": clean, "@jpeg:75": jpeg}.items():
            run = RunRecord(
                method, f"flagship_ablation_robust_standardised_folds{level}", "zoo", "known_val", 0,
                {"m": method, "l": level}, "d0", "abc123", {}, "cpu", 1.0, {},
            )  # fmt: skip
            store.write_run(run, [Figure("identification_accuracy", value)])
    [table] = selection_tables(store)
    rows = {r.method: r.cells for r in table.rows}
    assert rows["a"]["selection: delivered identification"].value == pytest.approx(0.4)
    assert rows["a"][SELECTION_COLUMN].value == pytest.approx(0.6)
    assert rows["b"][SELECTION_COLUMN].value == pytest.approx(0.6)
    assert "reported: delivered identification" not in rows["a"]
