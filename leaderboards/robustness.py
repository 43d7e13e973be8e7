"""The robustness track on the board: each method's headline figure vs perturbation strength.

Robustness runs are stored under protocol variants (``closed_set@jpeg:75``; see
``datamodules.perturbations``). Here they become one table per (protocol, split, headline
metric) - methods as rows, ``clean`` then every perturbation level as columns - and one plot
per protocol with a panel per perturbation kind. The clean column is the plain protocol's
figure (the default benchmark's run) of the same seeds as the perturbed runs, so both come
from the store alone and a drop is never a seed's difference; a perturbed run is shown only
beside a clean run of the same configuration and weights. A table that holds all of a peer
benchmark's levels (``--perturbations=[genimage]``) heads those columns with the peer's own
headings (``jpeg:65 (GenImage JPEG (q=65))``), so its figures read against the paper's table.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from core.hashing import config_hash
from core.method_options import POST_FEATURE_ARGS
from core.paths import file_slug
from datamodules.perturbations import PERTURBATIONS, parse_perturbation, peer_labels
from leaderboards.judging import Judging, Judgings
from leaderboards.names import matplotlib_label, matplotlib_text
from leaderboards.plots import save_figure
from leaderboards.store import ResultsStore
from leaderboards.tables import Row, Table, is_perturbed, mean_cell, provenance

CLEAN = "clean"


def column_name(spec: str, labels: dict[str, str]) -> str:
    """A level's column: its spec, with the peers' headings where the table has them."""
    return f"{spec} ({labels[spec]})" if spec in labels else spec


def level_of(column: str) -> str:
    """The spec of a column (a spec has no space; a label follows one)."""
    return column.split(" ", 1)[0]


def _level_order(spec: str) -> tuple[int, float]:
    """Kinds in registry order; within a kind, from mild to strong."""
    level = parse_perturbation(spec)
    kinds = PERTURBATIONS.names()
    direction = 1 if level.kind.increasing else -1
    return kinds.index(level.kind.name), direction * level.strength


def _robust_rows(
    store: ResultsStore, judgings: Judgings
) -> dict[tuple[str, str, str, str], dict[str, dict[str, list[dict]]]]:
    """(protocol, split, dataset, metric) -> method -> column (``clean`` or a spec) -> figures,
    for the protocols, splits and methods that have at least one perturbed run."""
    grouped: dict[tuple[str, str, str, str], dict[str, dict[str, list[dict]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    rows = store.figure_rows()
    current = current_weights(rows)
    fitted = {
        run["run_id"]: fitted_configuration(
            run["config_json"], judgings.get(run["protocol"].split("@", 1)[0], Judging()).reads_embedding
        )
        for run in store.runs()
    }
    clean_fits = {
        (_owner(r), r["protocol"], fitted[r["run_id"]]) for r in rows if not is_perturbed(r["protocol"])
    }
    perturbed_keys = set()
    for row in rows:
        if not is_perturbed(row["protocol"]):
            continue
        weights = _weights(row)
        if weights is not None and current.get(_owner(row), weights) != weights:
            continue  # made with weights the method no longer has: not a figure of it now
        if (_owner(row), row["protocol"].split("@", 1)[0], fitted[row["run_id"]]) not in clean_fits:
            continue  # its clean counterpart is fitted otherwise now (the data's options, say)
        base, spec = row["protocol"].split("@", 1)
        if _tabled(judgings, base, row["split"], row["metric"]):
            key = (base, row["split"], row["dataset"], row["metric"])
            grouped[key][row["method"]][spec].append(row)
            perturbed_keys.add((key, row["method"], row["seed"]))
    for row in rows:  # the clean column: the seeds of a method that have perturbed runs
        key = (row["protocol"], row["split"], row["dataset"], row["metric"])
        if (key, row["method"], row["seed"]) in perturbed_keys:
            grouped[key][row["method"]][CLEAN].append(row)
    return grouped


def _tabled(judgings: Judgings, protocol: str, split: str, metric: str) -> bool:
    """Whether a perturbed figure has a robustness table: one of the figures its protocol's
    robustness is read by, on a split that protocol is tabled on."""
    judging = judgings.get(protocol, Judging())
    splits = judging.robustness_splits
    return metric in judging.robustness_metrics and (splits is None or split in splits)


def fitted_configuration(config_json: str, reads_embedding: bool = True) -> str:
    """The hash of what a run's method was fitted on and how: its config less the protocol, its
    arguments (a robustness run may report fewer open-set subsets) and the perturbation - the
    same for a perturbed run and the clean run it is shown beside. Where the protocol's figures
    do not read the zero-shot embedding, the arguments that only post-process features are left
    out too: a closed-set run is the same fit whichever embedding the method's YAML chooses."""
    config = json.loads(config_json)
    for key in ("protocol", "protocol_args", "perturbation"):
        config.pop(key, None)
    if not reads_embedding:
        kept = {
            k: v for k, v in (config.pop("method_args", None) or {}).items() if k not in POST_FEATURE_ARGS
        }
        if kept:
            config["method_args"] = kept
    return config_hash(config)


def _weights(row: dict) -> str | None:
    """The digest of the trained weights a run used (None for methods without any)."""
    extractor = json.loads(row["details_json"]).get("extractor") or {}
    return extractor.get("weights") if isinstance(extractor, dict) else None


def _owner(row: dict) -> tuple[str, str, int]:
    return row["method"], row["dataset"], row["seed"]


def current_weights(rows: list[dict]) -> dict[tuple[str, str, int], str]:
    """(method, data set, seed) -> the weights of its latest clean run: a perturbed run made
    with other weights (an older checkpoint) is history, never shown beside the current one."""
    current: dict[tuple[str, str, int], str] = {}
    for row in rows:  # ordered by creation
        weights = None if is_perturbed(row["protocol"]) else _weights(row)
        if weights is not None:
            current[_owner(row)] = weights
    return current


def build_robustness_tables(store: ResultsStore, judgings: Judgings) -> list[Table]:
    """One table per (protocol, split, data set, headline metric) with perturbed runs."""
    tables = []
    for (protocol, split, dataset, metric), by_method in sorted(_robust_rows(store, judgings).items()):
        levels = sorted(
            {c for columns in by_method.values() for c in columns if c != CLEAN}, key=_level_order
        )
        labels = peer_labels(levels)
        columns = [CLEAN, *(column_name(level, labels) for level in levels)]
        rows = []
        for method, by_column in sorted(by_method.items()):
            figures = [f for fs in by_column.values() for f in fs]
            cells = {column_name(c, labels): mean_cell(fs) for c, fs in by_column.items()}
            rows.append(Row(method, cells, sorted({f["seed"] for f in figures}), provenance(figures)))
        tables.append(Table(protocol, split, dataset, columns, rows, value_metric=metric))
    return tables


def _levels_by_kind(table: Table) -> dict[str, list[str]]:
    """Perturbation kind -> its level specs; the table's columns are already in kind order,
    mild to strong (``build_robustness_tables``)."""
    kinds: dict[str, list[str]] = {}
    for column in table.metrics:
        if column != CLEAN:
            kinds.setdefault(parse_perturbation(level_of(column)).kind.name, []).append(column)
    return kinds


def plot_robustness(tables: list[Table], out: Path) -> list[Path]:
    """Per robustness table (``build_robustness_tables``), one PNG: a panel per perturbation
    kind, the headline figure vs strength (the clean figure at the kind's identity strength),
    one line per method."""
    written = []
    for table in tables:
        kinds = _levels_by_kind(table)
        if not kinds:
            continue
        fig, axes = plt.subplots(1, len(kinds), figsize=(3.2 * len(kinds), 3.4), squeeze=False, sharey=True)
        for ax, (kind_name, specs) in zip(axes[0], kinds.items(), strict=True):
            kind = PERTURBATIONS.create(kind_name)
            for row in table.rows:
                points = [(kind.identity, row.cells[CLEAN].value)] if CLEAN in row.cells else []
                points += [
                    (parse_perturbation(level_of(s)).strength, row.cells[s].value)
                    for s in specs
                    if s in row.cells
                ]
                points.sort(key=lambda p: p[0], reverse=not kind.increasing)
                ax.plot(
                    [p[0] for p in points],
                    [p[1] for p in points],
                    "o-",
                    ms=3,
                    label=matplotlib_label(row.method),
                )
            ax.set(title=kind_name, xlabel=kind.strength, ylabel=matplotlib_text(str(table.value_metric)))
            if not kind.increasing:
                ax.invert_xaxis()  # left to right = stronger, in every panel
        axes[0][0].legend(fontsize=6)
        title = f"{table.protocol} / {table.split}: {table.value_metric} vs perturbation"
        fig.suptitle(matplotlib_text(title), fontsize=10)
        stem = "_".join(map(file_slug, ("robustness", table.protocol, table.split, table.value_metric)))
        path = save_figure(fig, out / f"{stem}.png")
        written.append(path)
    return written
