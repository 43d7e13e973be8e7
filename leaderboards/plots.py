"""Plots from the results store: ROC and OSCR curves per open-set split, confusion matrices.

The curves are the ones each run stored in its details (down-sampled), so the plots, like
the tables, come from the store alone.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from core.paths import file_slug
from leaderboards.names import matplotlib_label, matplotlib_text
from leaderboards.store import ResultsStore


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Every board plot is written the same way: tight layout, 110 dpi, figure closed."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _latest_runs(store: ResultsStore, protocol: str) -> dict[tuple[str, str, str], dict]:
    """The newest shown run per (data set, split, method) of a protocol, details decoded."""
    return store.newest_current_runs(("dataset", "split", "method"), protocol=protocol)


def plot_curves(store: ResultsStore, out: Path) -> list[Path]:
    written = []
    runs = _latest_runs(store, "open_set")
    by_split: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for (dataset, split, _), run in sorted(runs.items()):
        by_split[(dataset, split)].append(run)
    for (dataset, split), split_runs in by_split.items():
        fig, (roc_ax, oscr_ax) = plt.subplots(1, 2, figsize=(9, 4))
        for run in split_runs:
            roc, curve = run["details"].get("roc"), run["details"].get("oscr_curve")
            if roc:
                roc_ax.plot(roc["x"], roc["y"], label=matplotlib_label(run["method"]))
            if curve:
                oscr_ax.plot(curve["x"], curve["y"], label=matplotlib_label(run["method"]))
        roc_ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
        roc_ax.set(
            title=matplotlib_text(f"ROC known vs {split}"),
            xlabel="false positive rate (unknown accepted)",
            ylabel="true positive rate (known accepted)",
        )
        oscr_ax.set(
            title=matplotlib_text(f"OSCR vs {split}"),
            xlabel="false positive rate",
            ylabel="correct classification rate",
        )
        roc_ax.legend(fontsize=7)
        path = save_figure(fig, out / f"open_set_{file_slug(split)}{dataset_suffix(dataset)}.png")
        written.append(path)
    return written


def plot_confusions(store: ResultsStore, out: Path) -> list[Path]:
    written = []
    for (dataset, _, method), run in sorted(_latest_runs(store, "closed_set").items()):
        matrix, names = run["details"].get("confusion_matrix"), run["details"].get("generators", [])
        if not matrix:
            continue
        fig, ax = plt.subplots(figsize=(1 + 0.35 * len(names), 1 + 0.35 * len(names)))
        ax.imshow(matrix, cmap="Blues")
        labels = [matplotlib_text(name) for name in names]
        ax.set_xticks(range(len(names)), labels, rotation=90, fontsize=6)
        ax.set_yticks(range(len(names)), labels, fontsize=6)
        ax.set(title=matplotlib_text(f"{method}: closed-set confusion"), xlabel="predicted", ylabel="true")
        path = save_figure(fig, out / f"confusion_{file_slug(method)}{dataset_suffix(dataset)}.png")
        written.append(path)
    return written


def plot_scaling(store: ResultsStore, out: Path) -> list[Path]:
    """Zero-shot identification and verification AUROC vs the number of synthetic models,
    one line per architecture space (protocol ``zero_shot_scaling``)."""
    runs = _latest_runs(store, "zero_shot_scaling")
    if not runs:
        return []
    values = {(row["method"], row["metric"]): row for row in store.figure_rows(protocol="zero_shot_scaling")}
    metrics = (
        ("identification_accuracy", "identification accuracy"),
        ("verification_auroc", "verification AUROC"),
    )
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    by_space: dict[str, list[dict]] = defaultdict(list)
    for run in runs.values():  # the fixed images-per-model design only: the curve of one study
        if "images_per_model" in run["details"]:
            by_space[run["details"]["space"]].append(run)
    for space, space_runs in sorted(by_space.items()):
        space_runs.sort(key=lambda run: run["details"]["num_models"])
        x = [run["details"]["num_models"] for run in space_runs]
        for ax, (metric, label) in zip(axes, metrics, strict=True):
            rows = [values.get((run["method"], metric)) for run in space_runs]
            y = [row["value"] if row else float("nan") for row in rows]
            ax.plot(x, y, "o-" if len(x) > 1 else "s", label=matplotlib_label(space))
            ax.set(xscale="log", xlabel="synthetic models (fixed per-model)", ylabel=label, title=label)
    axes[0].legend(fontsize=7)
    path = save_figure(fig, out / "zero_shot_scaling.png")
    return [path]


def plot_open_set_by_subset(store: ResultsStore, out: Path) -> list[Path]:
    """Open-set AUROC per unseen subset (seed / data set / architecture / all / semantic
    shift), one bar per method, with its bootstrap interval: where each method's rejection of
    unknown generators breaks down (and POSE against its ablations). One plot per data set."""
    cells: dict[str, dict[tuple[str, str], list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in store.figure_rows(protocol="open_set", metric="auroc"):  # several seeds: their mean
        cells[row["dataset"]][(row["method"], row["split"])].append(row)
    return [_subset_bars(dataset, by_cell, out) for dataset, by_cell in sorted(cells.items())]


def _subset_bars(dataset: str, cells: dict[tuple[str, str], list[dict]], out: Path) -> Path:
    methods = sorted({m for m, _ in cells})
    subsets = [
        s
        for s in ("unseen_seed", "unseen_dataset", "unseen_architecture", "unseen_all", "semantic_shift")
        if any(split == s for _, split in cells)
    ]
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(subsets) + 0.25 * len(methods)), 4))
    for i, method in enumerate(methods):
        means, errors = [], [[], []]
        for subset in subsets:
            group = cells.get((method, subset), [])
            mean = sum(r["value"] for r in group) / len(group) if group else float("nan")
            low = [r["ci_low"] for r in group if r["ci_low"] is not None]
            high = [r["ci_high"] for r in group if r["ci_high"] is not None]
            means.append(mean)
            errors[0].append(mean - sum(low) / len(low) if low else 0.0)
            errors[1].append(sum(high) / len(high) - mean if high else 0.0)
        positions = [k + (i - (len(methods) - 1) / 2) * width for k in range(len(subsets))]
        ax.bar(positions, means, width, yerr=errors, capsize=2, label=matplotlib_label(method))
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(range(len(subsets)), [s.removeprefix("unseen_") for s in subsets])
    title = matplotlib_text(f"open set: rejection per unseen subset ({dataset})")
    ax.set(ylabel="AUROC known vs unseen", title=title, ylim=(0.0, 1.0))
    ax.legend(fontsize=6, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    return save_figure(fig, out / f"open_set_by_subset{dataset_suffix(dataset)}.png")


def dataset_suffix(dataset: str) -> str:
    """A plot file's data-set part (every plot of a data set's runs names it: the zoo and its
    semantic-shift variant, say, are drawn apart)."""
    return f"_{file_slug(dataset)}"


def plot_residual_spectra(store: ResultsStore, out: Path) -> list[Path]:
    """Per data set, each generator's mean residual spectrum (the data record of
    ``benchmarks.data_records``), one panel each, titled with its id and group: up-sampling
    peaks and their absence are visible at a glance. Each panel has its own colour range."""
    newest = store.newest_current_runs(("dataset",), protocol="residual_spectra")
    written = []
    for (dataset,), run in sorted(newest.items()):
        details = run["details"]
        rows, spectra = details.get("generators", []), details.get("spectra", [])
        shown = min(len(rows), len(spectra))
        if not shown:
            continue
        columns = min(8, shown)
        lines = -(-shown // columns)
        fig, axes = plt.subplots(lines, columns, figsize=(1.5 * columns, 1.65 * lines), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, row, spectrum in zip(axes.flat, rows, spectra, strict=False):
            ax.imshow(spectrum, cmap="magma")
            ax.set_title(matplotlib_text(f"{row['generator']}\n{row['group']}"), fontsize=5)
        diversity = store.figure_rows(run_id=run["run_id"], every_data_version=True)
        spread = f"; fingerprint diversity {diversity[0]['value']:.3f}" if diversity else ""
        part = f"; the first {shown} of {len(rows)} generators" if shown < len(rows) else ""
        title = f"{dataset}: mean residual spectrum per generator (log |FFT|, centred){spread}{part}"
        fig.suptitle(matplotlib_text(title), fontsize=8)
        written.append(save_figure(fig, out / f"residual_spectra{dataset_suffix(dataset)}.png"))
    return written
