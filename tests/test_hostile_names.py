"""No name breaks the board: hostile method, protocol, data-set, split, generator and metric
names and weights notes go through ``modelprint board`` into every file, each kept inert for its
renderer (``leaderboards.names``), while ordinary names come out exactly as before."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import cbook

from benchmarks.cli import main
from benchmarks.commands.board import README_END, README_START
from core.paths import file_slug
from leaderboards.names import (
    console_text,
    html_text,
    latex_text,
    markdown_text,
    matplotlib_label,
    matplotlib_text,
)
from leaderboards.store import Figure, ResultsStore, RunRecord

#: method names, each hostile to at least one renderer
METHODS = [
    "$x$",  # mathtext: italics, not the name
    r"$\frac{$",  # mathtext that does not parse: the board used to exit here
    "a|b",  # splits a Markdown table cell
    "two\nlines",  # ends a Markdown table row
    "<script>alert(1)</script>",
    "\\{}%&#_^~<>",  # LaTeX's specials
    "ünïcødé 画像",
    "long " * 60,
    "_hidden",  # matplotlib's legend leaves out labels starting with "_"
    "[/x] 'q\" `c` *e* :100:",  # rich markup and emoji codes; quotes for HTML attributes
]
#: the methods drawn per method (confusions; open-set and zero-shot records): a few keep it quick
CONFUSED = [METHODS[1], METHODS[7], METHODS[8]]
RECORDED = [METHODS[0], METHODS[2], METHODS[3]]
GENERATORS = ["g$1$", "g|2", "g\n3", "<g4>", "g\\_{5}%", "_g6", "G" * 200]
KNOWN = ["k$a$", "k|b"]
DATASET = "d$1$|<i>&\n[/x]%"  # every plot title and table title names its data set
SPLIT = "unseen_$a$|b\n<s>"
PROTOCOL = "proto$|<b>&%\n#"
METRIC = "m$|<b>_%\n~"
WEIGHTS = "w$|<b>\n%&\\"


def write(
    store: ResultsStore,
    method: str,
    protocol: str,
    split: str,
    details: dict,
    figures: list[Figure],
    dataset: str = "zoo",
) -> None:
    config = {"method": method, "dataset": dataset}
    details = {"weights": WEIGHTS, **details}
    run = RunRecord(method, protocol, dataset, split, 0, config, "d0", "abc", {}, "cpu", 1.0, details)
    store.write_run(run, figures)


def hostile_store(path: Path) -> None:
    """A run of each kind the board draws, every name in it hostile."""
    store = ResultsStore(path)
    curve = {"x": [0.0, 0.5, 1.0], "y": [0.0, 0.7, 1.0]}
    confusion = {"confusion_matrix": [[1] * len(GENERATORS)] * len(GENERATORS), "generators": GENERATORS}
    taken = {"mostly_taken_for": KNOWN[0], "taken_for_share": 0.6, "images": 5}
    open_record = {
        g: {"auroc": 0.7, **taken, "taken_for_counts": dict.fromkeys(KNOWN, 2)} for g in GENERATORS
    }
    open_details = {"roc": curve, "oscr_curve": curve, "per_generator": open_record}
    shift_record = {g: {"counterpart": KNOWN[1], "counterpart_share": 0.4, "auroc": 0.6} for g in GENERATORS}
    zero_record = {g: {"identification_accuracy": 0.5, "f1": 0.4} for g in GENERATORS}
    tsne = {"x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 2.0], "labels": [0, 5, 6]}
    for i, method in enumerate(METHODS):  # tables of every method, and the robustness plot's key
        for protocol in ("closed_set", "closed_set@jpeg:75"):
            figures = [Figure("accuracy", 0.5 + i / 100, 0.4, 0.6), Figure(METRIC, 0.3)]
            write(store, method, protocol, "known_test", confusion if method in CONFUSED else {}, figures)
        write(store, method, PROTOCOL, SPLIT, {}, [Figure(METRIC, 0.2, 0.1, 0.3)])
    for method in RECORDED:
        for split in ("unseen_all", SPLIT):
            write(store, method, "open_set", split, open_details, [Figure("auroc", 0.7, 0.6, 0.8)])
        details = {"roc": curve, "per_generator": shift_record}
        write(store, method, "open_set", "semantic_shift", details, [Figure("auroc", 0.6)])
        details = {"per_generator": zero_record, "map": tsne, "generators": GENERATORS}
        figures = [Figure("identification_accuracy", 0.5), Figure("verification_auroc", 0.6)]
        write(store, method, "zero_shot", "unseen_all", details, figures)
    # the hostile data set: a table, curves, a confusion, bars and its data record
    write(store, METHODS[1], "closed_set", "known_test", confusion, [Figure("accuracy", 0.5)], DATASET)
    write(store, METHODS[1], "open_set", "unseen_all", open_details, [Figure("auroc", 0.7)], DATASET)
    spectra = {
        "generators": [{"generator": g, "group": SPLIT} for g in GENERATORS],
        "spectra": [[[0.0, 1.0], [1.0, 0.0]]] * len(GENERATORS),
    }
    write(store, "data", "residual_spectra", "all", spectra, [Figure("diversity", 0.1)], DATASET)
    for models, method in ((4, METHODS[0]), (8, METHODS[8])):
        details = {"images_per_model": 10, "space": METHODS[1], "num_models": models}
        figures = [Figure("identification_accuracy", 0.4), Figure("verification_auroc", 0.6)]
        write(store, method, "zero_shot_scaling", "unseen_all", details, figures)
    # a cell missing a split it records: the board prints a note naming the method
    details = {"cell_splits": ["unseen_all", "unseen_seed"]}
    write(store, METHODS[9], "open_set", "unseen_all", details, [Figure("auroc", 0.5)])


def table_widths(markdown: str) -> list[list[int]]:
    """Each Markdown table's pipe count per line, counted as GitHub's tables split a row: a
    ``|`` right after a backslash is text in the cell, whatever comes before that backslash."""
    tables: list[list[int]] = []
    previous = False
    for line in markdown.split("\n"):  # CommonMark's line breaks; str.splitlines knows more
        is_row = line.startswith("|")
        if is_row and not previous:
            tables.append([])
        if is_row:
            tables[-1].append(len(re.findall(r"(?<!\\)\|", line)))
        previous = is_row
    return tables


#: how a name's special characters are written in LaTeX
LATEX_ESCAPES = re.compile(r"\\text(?:backslash|asciitilde|asciicircum|less|greater)\{\}|\\[&%$#_{}]")
#: a best cell: a figure in bold
LATEX_BOLD = re.compile(r"\\textbf\{([0-9.]+(?: \$\\pm\$ [0-9.]+)?)\}")
#: what the board writes around the names: a table's start and end, a row's end, the arrows and
#: the ± of the header and cells, the column separators
LATEX_STRUCTURE = re.compile(
    r"^\\begin\{tabular\}\{lc*\}$|^\\end\{tabular\}$| \\\\( \\hline)?$|\$\\(?:uparrow|downarrow|pm)\$| & "
)


def latex_unescaped(tex: str) -> list[str]:
    """Lines of ``tex`` holding a special character that is neither escaped nor the table's own."""
    bad = []
    for line in tex.split("\n"):
        text = LATEX_ESCAPES.sub("", line.removeprefix("% "))
        text = LATEX_STRUCTURE.sub(" ", LATEX_BOLD.sub(r"\1", text))
        if re.search(r"[&%$#_{}~^\\]", text):
            bad.append(line)
    return bad


@pytest.mark.timeout(120)
def test_hostile_names_go_through_board_into_every_file(tmp_path: Path, monkeypatch, capsys) -> None:
    store_path = tmp_path / "hostile.sqlite"
    hostile_store(store_path)
    monkeypatch.setenv("MODELPRINT_RESULTS", str(store_path))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\n{README_END}\n")
    out, site = tmp_path / "board", tmp_path / "site"

    assert main(["board", f"--out={out}", f"--readme={readme}", f"--site={site}"]) == 0

    names = {p.name for p in out.iterdir()}
    assert {"board.md", "board.csv", "board.json", "board.html", "board.tex", "per_generator.md"} <= names
    pngs = sorted(p for p in out.iterdir() if p.suffix == ".png")
    for prefix in (
        "open_set_unseen_all_",
        "confusion_",
        "zero_shot_scaling",
        "open_set_by_subset_",
        "robustness_closed_set_",
        "unseen_confusion_",
        "fingerprint_map_",
        "residual_spectra_",
    ):
        assert any(p.name.startswith(prefix) for p in pngs), prefix
    assert all(p.stat().st_size > 0 for p in pngs)
    assert len([p for p in pngs if p.name.startswith("confusion_")]) == len(CONFUSED) + 1

    # Markdown: every table keeps its column count on every line, names are text
    for text in ((out / "board.md").read_text(), (out / "per_generator.md").read_text(), readme.read_text()):
        widths = table_widths(text)
        assert widths and all(len(set(table)) == 1 for table in widths), widths
        assert "<script>" not in text and "<g4>" not in text
    board_md = (out / "board.md").read_text()
    assert markdown_text(METHODS[2]) in board_md and "two<br>lines" in board_md

    # HTML: the sort script is the page's only script; every name escaped
    pages = [out / "board.html", site / "index.html", *sorted((site / "methods").iterdir())]
    assert len(pages) == 2 + len(METHODS)
    for page in pages:
        text = page.read_text()
        scripts = text.count("<script>")
        assert scripts == (0 if page.parent.name == "methods" else 1), page
        assert "alert(1)</script>" not in text and "<b>" not in text and "<i>" not in text
    assert html_text(METHODS[4]) in (out / "board.html").read_text()

    # LaTeX: no special character outside an escape or the table's own structure
    tex = (out / "board.tex").read_text()
    assert not latex_unescaped(tex), latex_unescaped(tex)
    assert latex_text(METHODS[5]) in tex

    # the console printed names as they are spelt (markup and emoji codes left alone)
    console = capsys.readouterr().out
    assert "[/x]%): 1 methods" in console and "[/x] 'q" in console


def test_the_lint_of_latex_catches_what_it_should() -> None:
    """The LaTeX check above would fail on an unescaped name."""
    assert latex_unescaped("% t \\_ \\& ok\nm\\_1 & 0.500 $\\pm$ 0.100 \\\\") == []
    assert latex_unescaped("a_b & 1 \\\\") == ["a_b & 1 \\\\"]
    assert latex_unescaped("x & 100% \\\\") and latex_unescaped("\\textbf{a$b}")
    assert latex_unescaped("a & \\textbf{0.5 $\\pm$ 0.1} & --") == []
    assert table_widths("| a | b |\n|---|---|\n| x\\|y | z |\n\n| c |") == [[3, 3, 3], [2]]


@pytest.mark.parametrize("name", [*METHODS, *GENERATORS, DATASET, SPLIT, PROTOCOL, METRIC, WEIGHTS, "a\\$b$"])
def test_matplotlib_shows_a_name_as_it_is_spelt(name: str) -> None:
    """Never mathtext, and matplotlib's own unescaping gives the name back."""
    text = matplotlib_text(name)
    assert not cbook.is_math_text(text) and text.replace(r"\$", "$") == name


def test_a_leading_underscore_keeps_its_legend_entry() -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1], label=matplotlib_label("_hidden"))
    ax.plot([1, 0], label=matplotlib_label("$x$"))
    legend = [t.get_text() for t in ax.legend().get_texts()]
    plt.close(fig)
    assert legend == ["\u200b_hidden", r"\$x\$"]


@pytest.mark.parametrize(
    "name",
    ["zoo", "synthetic_fingerprint[off,fixed,224]", "closed_set@jpeg:75", "v1.2-a", "known_val", "G0,1"],
)
def test_ordinary_names_are_unchanged(name: str) -> None:
    """The published board does not change: ordinary names pass through every renderer as they
    are (LaTeX escapes its ``_`` as it always has)."""
    for render in (matplotlib_text, matplotlib_label, markdown_text, html_text):
        assert render(name) == name
    assert latex_text(name) == name.replace("_", r"\_")
    assert console_text(name).plain == name


def test_a_long_plain_name_fits_in_a_file_name() -> None:
    assert len(f"unseen_confusion_{file_slug('L' * 300)}_zoo.png".encode()) <= 255
