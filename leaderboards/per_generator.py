"""Per-generator analysis from the runs' records (POSE's): for each unseen generator, how each
method does on it alone - open-set AUROC against the known test images and the known generator
its images are mostly taken for; zero-shot identification accuracy and F1 - and a plot of where
each unseen generator's images go among the known ones.

Read from each method's newest open-set ``unseen_all`` and zero-shot run per data set (runs
recorded before these tables existed have no ``per_generator`` record and are left out).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from core.paths import file_slug
from leaderboards.judging import Judgings, per_generator_views
from leaderboards.names import markdown_text, matplotlib_label, matplotlib_text
from leaderboards.plots import save_figure
from leaderboards.store import ResultsStore

NOTE = (
    "Open set: AUROC of the known test images against this generator's images alone, then the known "
    "generator its images are most often attributed to and how often. Zero shot: identification "
    "accuracy of its queries, pooled over episodes, and its one-vs-rest F1. Semantic shift: the share "
    "of the generator's images attributed to its counterpart (the known generator of the same recipe "
    "on the known content), then its open-set AUROC."
)


def newest_records(
    store: ResultsStore, protocol: str, field: str = "per_generator", split: str = "unseen_all"
) -> dict[str, dict[str, dict]]:
    """data set -> method -> the newest ``split`` run's ``field`` of its details (its
    per-generator record, or its fingerprint ``map``)."""
    newest = store.newest_current_runs(("dataset", "method"), protocol=protocol, split=split)
    records: dict[str, dict[str, dict]] = {}
    for (dataset, method), run in sorted(newest.items()):
        details = run["details"]
        table = details.get(field)
        if table and field == "map":  # a map's labels index the run's generators
            table = {**table, "generators": details.get("generators", [])}
        if table:
            records.setdefault(dataset, {})[method] = table
    return records


def cell(protocol: str, row: dict) -> str:
    if "counterpart" in row:
        counterpart = markdown_text(row["counterpart"])
        return f"{row['counterpart_share']:.0%} to {counterpart} (AUROC {row['auroc']:.3f})"
    if protocol == "open_set":
        return f"{row['auroc']:.3f} ({markdown_text(row['mostly_taken_for'])} {row['taken_for_share']:.0%})"
    return f"{row['identification_accuracy']:.3f} (F1 {row['f1']:.3f})"


def per_generator_markdown(store: ResultsStore, judgings: Judgings) -> str:
    """One table per (protocol's view, data set): unseen generators as rows, methods as columns."""
    parts = ["# Per unseen generator\n"]
    for protocol, split, title in per_generator_views(judgings):
        for dataset, by_method in newest_records(store, protocol, split=split).items():
            methods = sorted(by_method)
            generators = sorted({g for table in by_method.values() for g in table})
            parts.append(f"## {markdown_text(title)} ({markdown_text(dataset)})\n")
            parts.append("| generator | " + " | ".join(markdown_text(m) for m in methods) + " |")
            parts.append("|---|" + "---|" * len(methods))
            for generator in generators:
                cells = [
                    cell(protocol, by_method[m][generator]) if generator in by_method[m] else "—"
                    for m in methods
                ]
                parts.append(f"| {markdown_text(generator)} | " + " | ".join(cells) + " |")
            parts.append("")
    parts.append(NOTE)
    return "\n".join(parts) + "\n"


def plot_unseen_confusions(store: ResultsStore, out: Path) -> list[Path]:
    """Per method and data set: rows unseen generators, columns known ones, the share of each
    unseen generator's images attributed to each known generator."""
    written = []
    for dataset, by_method in newest_records(store, "open_set").items():
        for method, table in by_method.items():
            rows = sorted(g for g in table if "taken_for_counts" in table[g])
            if not rows:
                continue
            known = list(table[rows[0]]["taken_for_counts"])
            shares = [[table[g]["taken_for_counts"][k] / table[g]["images"] for k in known] for g in rows]
            fig, ax = plt.subplots(figsize=(1.5 + 0.3 * len(known), 1.2 + 0.3 * len(rows)))
            image = ax.imshow(shares, cmap="Oranges", vmin=0, vmax=1)
            ax.set_xticks(range(len(known)), [matplotlib_text(k) for k in known], rotation=90, fontsize=6)
            ax.set_yticks(range(len(rows)), [matplotlib_text(g) for g in rows], fontsize=6)
            title = matplotlib_text(f"{method} ({dataset}): unseen taken for")
            ax.set(title=title, xlabel="known generator", ylabel="unseen")
            fig.colorbar(image, ax=ax, fraction=0.04)
            stem = "_".join(map(file_slug, ("unseen_confusion", method, dataset)))
            written.append(save_figure(fig, out / f"{stem}.png"))
    return written


def plot_fingerprint_maps(store: ResultsStore, out: Path) -> list[Path]:
    """Per method and data set: its zero-shot run's 2-D t-SNE of the unseen generators'
    embeddings (recorded with the run), one colour per generator."""
    written = []
    for dataset, by_method in newest_records(store, "zero_shot", "map").items():
        for method, record in by_method.items():
            names, labels = record["generators"], record["labels"]
            fig, ax = plt.subplots(figsize=(7.5, 5))
            colours = plt.get_cmap("tab20")
            for label in sorted(set(labels)):
                at = [i for i, v in enumerate(labels) if v == label]
                ax.scatter(
                    [record["x"][i] for i in at],
                    [record["y"][i] for i in at],
                    s=6,
                    color=colours(label % 20),
                    marker="o^sDv"[label // 20 % 5],
                    label=matplotlib_label(names[label]) if label < len(names) else str(label),
                )
            ax.set(title=matplotlib_text(f"{method} ({dataset}): t-SNE of unseen generators"))
            ax.set_xticks([]), ax.set_yticks([])
            ax.legend(
                fontsize=5,
                markerscale=1.5,
                loc="center left",
                bbox_to_anchor=(1, 0.5),
                ncol=1 + len(names) // 28,
            )
            stem = "_".join(map(file_slug, ("fingerprint_map", method, dataset)))
            written.append(save_figure(fig, out / f"{stem}.png"))
    return written
