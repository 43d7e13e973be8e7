"""Studies apart from methods: which tables are studies, and the studies page.

A study's rows are variants (``input=residual``, ``synthetic_fingerprint[paper,100]``) or records
(training losses, synthetic-space statistics), not methods a reader would pick - on the old
site each became a "method page". A table is a study's when its protocol is not a judged
benchmark protocol (the board's judging declarations name those), or is one of the flagship's
factorial studies, or is derived from one (main effects, selection).
"""

from __future__ import annotations

from collections.abc import Callable

from leaderboards.judging import Judgings
from leaderboards.site_html import TableView, board_table, e, gallery, page, paired, section
from leaderboards.site_plots import PlotIndex
from leaderboards.tables import FACTORIAL_PROTOCOLS, Table

#: the studies page's sections: (protocol prefix, heading, why a reader looks)
STUDY_FAMILIES = (
    (
        "flagship_ablation",
        "The flagship's ablation",
        "A full factorial over the choices that separate the paper's recipe from a naive one "
        "(input, denoiser, sampling, architecture space) at one training budget; main effects "
        "average each level over the others; selection tables show the split a choice is made "
        "on beside the split that is reported.",
    ),
    (
        "zero_shot_scaling",
        "Scaling the synthetic set",
        "Zero-shot figures as the number of synthetic models grows at a fixed number of images "
        "per model, and with a single up-sampling type.",
    ),
    (
        "synth_stats",
        "Synthetic-space statistics",
        "Fidelity (Fréchet frequency distance to the known generators) and diversity of each "
        "synthetic architecture space; the residual spectra of each data set.",
    ),
    (
        "training",
        "Training records",
        "The final losses and accuracies of the trainings the board's weights come from.",
    ),
)
DERIVED_SUFFIXES = ("_main_effects", "_selection")


def is_study(protocol: str, judgings: Judgings) -> bool:
    """Whether a table of ``protocol`` belongs on the studies page rather than the leaderboard."""
    base = protocol.split("@")[0]
    if base.endswith(DERIVED_SUFFIXES):
        return True
    return base in FACTORIAL_PROTOCOLS or base not in judgings


def family_of(protocol: str) -> int:
    """The index of a study's section (the last, "other studies", when none claims it)."""
    for index, (prefix, _, _) in enumerate(STUDY_FAMILIES):
        if protocol.startswith(prefix):
            return index
    return len(STUDY_FAMILIES)


def studies_page(tables: list[Table], plots: PlotIndex, slug: Callable[[str], str]) -> str:
    """Every study table with its plot beside it, grouped by the question each study answers."""
    families: dict[int, list[Table]] = {}
    for table in tables:
        families.setdefault(family_of(table.protocol), []).append(table)
    headings = [(h, why) for _, h, why in STUDY_FAMILIES] + [("Other studies", "")]
    parts = [
        "<p class='lede'>Studies vary the flagship or describe the data; their rows are variants, "
        "not methods, so they are kept off the leaderboard and have no method pages.</p>"
    ]
    parts.append("<nav aria-label='studies'><ul>")
    parts += [f"<li><a href='#study-{i}'>{e(headings[i][0])}</a></li>" for i in sorted(families)]
    parts.append("</ul></nav>")
    for index in sorted(families):
        heading, why = headings[index]
        body = f"<p class='lede'>{e(why)}</p>" if why else ""
        body += "".join(study_table(table, plots, slug) for table in families[index])
        extra = []
        if index == family_of("zero_shot_scaling"):
            extra = plots.take("zero_shot_scaling.png")
        if index == family_of("synth_stats"):
            extra = plots.take(*sorted(n for n in plots.by_name if n.startswith("residual_spectra")))
        parts.append(section(f"study-{index}", heading, body + gallery(extra)))
    return page("Studies", "".join(parts), current="studies.html")


def study_table(table: Table, plots: PlotIndex, slug: Callable[[str], str]) -> str:
    """One study table and its plot side by side."""
    view = TableView(f"t-{slug(table.title)}", label=table.title)
    return paired(e(table.title), board_table(table, view), plots.for_table(table))
