"""Leaderboard tables: views of the results store, never edited by hand.

One table per (protocol, split); methods are rows, metrics columns. A cell is the mean over
the seeds a method ran, with the mean of the per-seed bootstrap interval bounds; the seeds,
data hash, git revision, config hash and weights note travel with each row. Which value is
best in a column comes from the metric class's ``higher_is_better`` (torchmetrics style).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from torchmetrics.classification import BinaryAUROC, MulticlassAccuracy, MulticlassF1Score

from core.metrics.attribution import (
    IdentificationAccuracy,
    OpenSetClassificationRate,
    VerificationMetrics,
)
from core.metrics.synthetic_quality import FingerprintDiversity, FrechetFrequencyDistance
from leaderboards.judging import Judgings, headline_columns
from leaderboards.store import ResultsStore

METRIC_CLASSES: dict[str, type] = {
    "accuracy": MulticlassAccuracy,
    "macro_f1": MulticlassF1Score,
    "closed_accuracy": MulticlassAccuracy,
    "auroc": BinaryAUROC,
    "oscr": OpenSetClassificationRate,
    "identification_accuracy": IdentificationAccuracy,
    "ffd": FrechetFrequencyDistance,
    "diversity": FingerprintDiversity,
}


def higher_is_better(metric: str) -> bool:
    if metric.startswith("verification_"):
        return bool(VerificationMetrics.higher_is_better)
    if metric.endswith("_loss"):  # training losses (protocol ``training``)
        return False
    cls = METRIC_CLASSES.get(metric)
    return True if cls is None else bool(cls.higher_is_better)


@dataclass
class TableCell:
    value: float
    ci_low: float | None
    ci_high: float | None


@dataclass
class Row:
    method: str
    cells: dict[str, TableCell]
    seeds: list[int]
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class Table:
    protocol: str
    split: str
    dataset: str
    metrics: list[str]
    rows: list[Row]
    #: robustness tables: every column is this one metric, under a different perturbation
    value_metric: str | None = None
    #: columns named otherwise than the metric they hold (the headline's), column -> metric
    column_metrics: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        if self.value_metric:
            return f"robustness: {self.protocol} / {self.split} {self.value_metric} ({self.dataset})"
        return f"{self.protocol} / {self.split} ({self.dataset})"

    def metric_of(self, column: str) -> str:
        """The metric a column holds (its own name, except in robustness and headline tables)."""
        return self.value_metric or self.column_metrics.get(column, column)

    def best(self, metric: str) -> str | None:
        """The method with the best value in a column (None if the column is empty)."""
        candidates = [(r.cells[metric].value, r.method) for r in self.rows if metric in r.cells]
        if not candidates:
            return None
        pick = max if higher_is_better(self.metric_of(metric)) else min
        return pick(candidates)[1]


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


#: records of the data sets themselves (not a method's figures): drawn as plots, not tabled
DATA_RECORDS = ("residual_spectra",)


def is_perturbed(protocol: str) -> bool:
    """Robustness-track runs (``open_set@jpeg:75``) have their own tables, not the main ones."""
    return "@" in protocol


def build_tables(store: ResultsStore, protocols: list[str] | None = None) -> list[Table]:
    """Every (protocol, split, data set) in the store as a table, seeds averaged; perturbed
    protocol variants only where ``protocols`` names them (see ``leaderboards.robustness``)."""
    groups: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in store.figure_rows():
        if protocols and row["protocol"] not in protocols:
            continue
        if not protocols and (is_perturbed(row["protocol"]) or row["protocol"] in DATA_RECORDS):
            continue
        groups[(row["protocol"], row["split"], row["dataset"])][row["method"]].append(row)
    tables = []
    for (protocol, split, dataset), by_method in sorted(groups.items()):
        metrics: list[str] = []
        rows = []
        for method, figures in sorted(by_method.items()):
            by_metric: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for f in figures:
                by_metric[f["metric"]].append(f)
                if f["metric"] not in metrics:
                    metrics.append(f["metric"])
            cells = {m: mean_cell(fs) for m, fs in by_metric.items()}
            rows.append(Row(method, cells, sorted({f["seed"] for f in figures}), provenance(figures)))
        tables.append(Table(protocol, split, dataset, metrics, rows))
    return tables


#: the training key at the end of a trained method's weights line ("shipped weights <key>")
TRAINING_KEY = re.compile(r" [0-9a-f]{16}$")


def provenance(figures: list[dict[str, Any]]) -> dict[str, Any]:
    """Where a row's figures came from: every git sha, data hash, config hash and run id."""
    latest = figures[-1]  # figure_rows come in the order their runs were written
    return {
        "git_sha": sorted({f["git_sha"] for f in figures}),
        "data_hash": sorted({f["data_hash"] for f in figures}),
        "config_hash": sorted({f["config_hash"] for f in figures}),
        "run_ids": sorted({f["run_id"] for f in figures}),
        "weights": weights_by_seed(figures),
        "device": latest["device"],
    }


def weights_by_seed(figures: list[dict[str, Any]]) -> str:
    """What a row's weights were: one line when every seed used the same weights, else each
    kind with its seeds (say seed 0 from the shipped weights, seeds 1 and 2 trained where they
    ran); a kind keeps its training key only where one key serves all its seeds, and a
    description the kinds share ("trained on ...: ") is said once before them."""
    runs = {figure["run_id"]: figure for figure in figures}  # a run's details, decoded once
    keys_of: dict[str, set[str]] = {}
    seeds_of: dict[str, set[int]] = {}
    for run in runs.values():
        weights = str(json.loads(run["details_json"]).get("weights", "n/a"))
        kind = TRAINING_KEY.sub("", weights)
        keys_of.setdefault(kind, set()).add(weights)
        seeds_of.setdefault(kind, set()).add(run["seed"])
    if len(keys_of) == 1 and len(next(iter(keys_of.values()))) == 1:
        return next(iter(next(iter(keys_of.values()))))
    descriptions = {kind.rpartition(": ")[0] for kind in keys_of}
    shared = next(iter(descriptions)) if len(descriptions) == 1 else ""  # said once, not per source
    parts = []
    for kind, seeds in sorted(seeds_of.items(), key=lambda item: min(item[1])):
        label = next(iter(keys_of[kind])) if len(keys_of[kind]) == 1 else kind
        label = label.removeprefix(f"{shared}: ") if shared else label
        parts.append(f"{label} (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))})")
    return f"{shared}: {'; '.join(parts)}" if shared else "; ".join(parts)


def mean_cell(figures: list[dict[str, Any]]) -> TableCell:
    """A cell from several seeds' figures: means of the values and of the interval bounds."""
    return TableCell(
        _mean([f["value"] for f in figures]),
        _mean([f["ci_low"] for f in figures]),
        _mean([f["ci_high"] for f in figures]),
    )


def format_cell(cell: TableCell) -> str:
    if cell.ci_low is None or cell.ci_high is None:
        return f"{cell.value:.3f}"
    return f"{cell.value:.3f} ± {(cell.ci_high - cell.ci_low) / 2:.3f}"


def headline_table(tables: list[Table], judgings: Judgings, dataset: str = "zoo") -> Table:
    """The protocols' headline figures side by side for one data set, one row per method: the
    README's summary of the full board (the same cells, picked out, never recomputed)."""
    by_key = {(t.protocol, t.split): t for t in tables if t.dataset == dataset and not t.value_metric}
    rows: dict[str, Row] = {}
    columns = headline_columns(judgings)
    for protocol, column in columns:
        table = by_key.get((protocol, column.split))
        for source in table.rows if table else []:
            if column.metric in source.cells:
                row = rows.setdefault(source.method, Row(source.method, {}, [], {"weights": ""}))
                row.cells[column.title] = source.cells[column.metric]
                row.seeds = sorted(set(row.seeds) | set(source.seeds))
                row.provenance["weights"] = source.provenance["weights"]
    titles = [c.title for _, c in columns if any(c.title in r.cells for r in rows.values())]
    metrics = {c.title: c.metric for _, c in columns}
    return Table(
        "headline", "", dataset, titles, sorted(rows.values(), key=lambda r: r.method), None, metrics
    )


#: the studies whose variants name their factor levels in ``details["factors"]``
FACTORIAL_PROTOCOLS = (
    "flagship_ablation",
    "flagship_ablation_standardised",
    "flagship_ablation_robust",
    "flagship_ablation_robust_standardised",
)
EFFECT_METRICS = ("identification_accuracy", "verification_auroc")


def main_effects_tables(store: ResultsStore) -> list[Table]:
    """For a factorial study: each factor level's mean figure over the variants that hold it
    (a balanced design gives every level the same share of the other factors' levels), so the
    gap between a factor's two rows is its main effect - per split where a study records
    several (selection and reported). Derived from the store's runs only."""
    tables = []
    for protocol in FACTORIAL_PROTOCOLS:
        rows = [r for r in store.figure_rows(protocol=protocol) if r["metric"] in EFFECT_METRICS]
        for split in dict.fromkeys(r["split"] for r in rows):
            of_split = [r for r in rows if r["split"] == split]
            by_level: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(
                lambda: defaultdict(list)
            )
            for row in of_split:
                for factor, level in json.loads(row["details_json"]).get("factors", {}).items():
                    by_level[(factor, level)][row["metric"]].append(row)
            if not by_level:
                continue
            table_rows = [
                Row(
                    f"{factor}={level}",
                    {m: mean_cell(fs) for m, fs in metrics.items()},
                    sorted({f["seed"] for fs in metrics.values() for f in fs}),
                    {
                        **provenance([f for fs in metrics.values() for f in fs]),
                        "weights": _variants(len(next(iter(metrics.values())))),
                    },
                )
                for (factor, level), metrics in sorted(by_level.items())
            ]
            tables.append(
                Table(
                    f"{protocol}_main_effects",
                    split,
                    of_split[0]["dataset"],
                    list(EFFECT_METRICS),
                    table_rows,
                )
            )
    return tables


#: studies recorded on a selection split and a reported one: (protocol, selection, reported)
SELECTION_STUDIES = (
    ("flagship_ablation_robust", "known_val", "unseen_all"),
    ("flagship_ablation_robust_standardised", "known_val", "unseen_all"),
    ("flagship_ablation_robust_whitened", "known_val", "unseen_all"),
    ("flagship_ablation_robust_standardised_folds", "known_val", "unseen_all"),
)
#: a selection table's identification columns (each once per side: selection, reported)
IDENTIFICATION, DELIVERED = "identification", "delivered identification"
#: the mean of the two: what a choice weighs
CLEAN_AND_DELIVERED = "clean and delivered identification"
#: the column of a selection table that the choice is made by: the mean of clean and delivered
#: identification, so a network is not chosen for keeping its delivered figure by giving up
#: its clean one (the pixels-only probe: delivered 0.343 above the shipped network's 0.334,
#: clean 0.348 against 0.714)
SELECTION_COLUMN = f"selection: {CLEAN_AND_DELIVERED}"
SIDES = ("selection", "reported")


def selection_tables(store: ResultsStore) -> list[Table]:
    """A study's rows with the split choices are made on beside the split that is reported -
    clean identification and verification, identification averaged over the delivered
    (perturbed) levels, and the mean of the two - so the board shows what informed a choice
    next to what it reports. The row best by :data:`SELECTION_COLUMN` is the one to ship; the
    reported columns never choose."""
    tables = []
    for protocol, selection, reported in SELECTION_STUDIES:
        rows = [
            r
            for r in store.figure_rows()
            if r["protocol"].split("@")[0] == protocol and r["split"] in (selection, reported)
        ]
        if not rows:
            continue
        cells: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            side = "selection" if row["split"] == selection else "reported"
            if "@" not in row["protocol"] and row["metric"] in EFFECT_METRICS:
                name = IDENTIFICATION if row["metric"] == "identification_accuracy" else "verification AUROC"
                cells[row["method"]][f"{side}: {name}"].append(row)
            elif "@" in row["protocol"] and row["metric"] == "identification_accuracy":
                cells[row["method"]][f"{side}: {DELIVERED}"].append(row)
        names = (IDENTIFICATION, "verification AUROC", DELIVERED, CLEAN_AND_DELIVERED)
        columns = [f"{side}: {name}" for name in names for side in SIDES]

        def levels_of(by_column: dict[str, list[dict[str, Any]]], side: str) -> set[str]:
            return {f["protocol"] for f in by_column.get(f"{side}: {DELIVERED}", [])}

        # delivered figures are averaged over the levels every row evaluated on each side has,
        # so rows compare alike; a row still being evaluated (a side without delivered levels)
        # does not narrow them, and a row lacking one of them gets no delivered figure. A side
        # no row has delivered levels on (a study recorded on the selection split only) does
        # not count
        sides = [side for side in SIDES if any(levels_of(b, side) for b in cells.values())]
        complete = [b for b in cells.values() if sides and all(levels_of(b, side) for side in sides)]
        levels = (
            set.intersection(*(levels_of(b, side) for b in complete for side in sides)) if complete else set()
        )
        delivered = sorted(level.split("@")[1] for level in levels)
        table_rows = []
        for method, by_column in sorted(cells.items()):
            figures = [f for fs in by_column.values() for f in fs]
            averaged = {
                c: _level_mean([f for f in fs if "@" not in f["protocol"] or f["protocol"] in levels])
                for c, fs in by_column.items()
            }
            for side in SIDES:
                if not levels or not levels <= levels_of(by_column, side):
                    averaged.pop(f"{side}: {DELIVERED}", None)
                pair = [averaged.get(f"{side}: {name}") for name in (IDENTIFICATION, DELIVERED)]
                if all(pair):
                    averaged[f"{side}: {CLEAN_AND_DELIVERED}"] = TableCell(
                        _mean([c.value for c in pair]), None, None
                    )
            table_rows.append(
                Row(
                    method,
                    {c: cell for c, cell in averaged.items() if cell is not None},
                    sorted({f["seed"] for f in figures}),
                    # the levels the delivered columns average, said where a row says what it is
                    {
                        **provenance(figures),
                        "weights": "delivered = mean of " + (", ".join(delivered) or "no level"),
                    },
                )
            )
        tables.append(
            Table(
                f"{protocol}_selection", f"{selection} | {reported}", rows[0]["dataset"], columns, table_rows
            )
        )
    return tables


def _level_mean(figures: list[dict[str, Any]]) -> TableCell | None:
    """The mean over perturbation levels (each level's seeds averaged first); one level: its cell."""
    if not figures:
        return None
    by_level: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in figures:
        by_level[f["protocol"]].append(f)
    if len(by_level) == 1:
        return mean_cell(figures)
    return TableCell(_mean([mean_cell(fs).value for fs in by_level.values()]), None, None)


def _variants(count: int) -> str:
    return f"mean of {count} variant{'s' if count != 1 else ''}"
