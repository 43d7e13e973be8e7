"""``modelprint attribute --format=html``: one self-contained page to look at the answers.

Each query's thumbnail sits beside a thumbnail of each top candidate's first reference image,
with the cosine similarity as a bar and a number, the decision and the margin; the table sorts
by any column and filters by decision or any text (the board site's own script and style,
inlined: no CDN, it opens from ``file://`` and offline). Thumbnails are PNGs embedded as data
URLs, small images enlarged without smoothing so a 32-px image's pixels stay visible; past
:data:`MAX_THUMBNAILS` queries the rows carry no image, so a report of a large folder stays a
page a browser opens. Every name and path is escaped.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from benchmarks.attribution.gallery import UNKNOWN, Attribution
from leaderboards.names import html_text as e
from leaderboards.site_html import page

#: the side of a thumbnail, in pixels
THUMBNAIL = 96
#: queries shown with their thumbnail; the rest are rows of text
MAX_THUMBNAILS = 2000


def thumbnail(path: str | Path) -> str | None:
    """A data URL of the image at ``path``, ``THUMBNAIL`` px on its longer side; None where it
    cannot be read (the report then names the file instead)."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            scale = THUMBNAIL / max(image.size)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_tag(url: str | None, alt: str) -> str:
    if url is None:
        return f"<span class='muted'>({e(alt)}: not readable)</span>"
    return f"<img class='thumb' src='{url}' alt='{e(alt)}' width='{THUMBNAIL}' height='{THUMBNAIL}'>"


def reference_styles(urls: dict[str, str | None]) -> tuple[str, dict[str, str]]:
    """Each generator's reference thumbnail once, as a CSS class (rows name the class, so a
    report of thousands of rows does not repeat the image in each); generator -> class."""
    classes = {g: f"ref-{i}" for i, (g, url) in enumerate(urls.items()) if url is not None}
    rules = "".join(f".{classes[g]}{{background-image:url({url})}}" for g, url in urls.items() if url)
    return f"<style>{rules}</style>", classes


def reference_tag(generator: str, css_class: str | None) -> str:
    if css_class is None:
        return f"<span class='muted'>(no reference image of {e(generator)} found)</span>"
    return f"<span class='thumb {css_class}' role='img' aria-label='reference of {e(generator)}'></span>"


def candidate_cell(generator: str, similarity: float, reference: str | None) -> str:
    """A candidate: its reference thumbnail (a CSS class), its name and its similarity as a bar."""
    width = max(0.0, min(1.0, similarity)) * 100
    return (
        f"<td class='candidate' data-value='{similarity:.6f}'>"
        f"{reference_tag(generator, reference)}"
        f"<div>{e(generator)}</div>"
        f"<div class='bar' role='img' aria-label='cosine {similarity:.3f}'>"
        f"<span style='width:{width:.1f}%'></span></div><div class='num'>{similarity:.3f}</div></td>"
    )


def html_report(
    answers: Sequence[Attribution],
    references: dict[str, str],
    threshold: float,
    top: int,
    title: str = "Attribution report",
) -> str:
    """The page for ``answers`` (good ones; failures are reported on stderr), with each
    generator's reference image from ``references`` (generator -> file)."""
    styles, reference_classes = reference_styles({g: thumbnail(path) for g, path in references.items()})
    decisions = sorted({a.decision for a in answers}, key=lambda d: (d != UNKNOWN, d))
    options = "".join(f"<option value='{e(d)}'>{e(d)}</option>" for d in decisions)
    heads = ["query", "decision", "margin", *(f"candidate {k}" for k in range(1, top + 1))]
    rows = []
    for number, answer in enumerate(answers):
        query = thumbnail(answer.path) if number < MAX_THUMBNAILS else None
        shown = image_tag(query, "query") if number < MAX_THUMBNAILS else ""
        cells = [
            f"<th scope='row' data-value='{e(answer.path)}'>{shown}"
            f"<div class='path'>{e(answer.path)}</div></th>",
            f"<td data-value='{e(answer.decision)}'><strong>{e(answer.decision)}</strong></td>",
            f"<td class='num' data-value='{answer.margin:.6f}'>{answer.margin:.3f}</td>",
        ]
        cells += [candidate_cell(g, s, reference_classes.get(g)) for g, s in answer.candidates]
        cells += ["<td></td>"] * (top - len(answer.candidates))
        rows.append(f"<tr data-decision='{e(answer.decision)}'>{''.join(cells)}</tr>")
    counts = ", ".join(f"{d} {sum(a.decision == d for a in answers)}" for d in decisions)
    note = (
        f"{len(answers)} images; decisions: {counts}. A generator is named where its cosine "
        f"similarity reaches {threshold:.4f} (the gallery's calibrated threshold or --threshold); "
        "otherwise the answer is unknown."
    )
    if len(answers) > MAX_THUMBNAILS:
        note += f" Thumbnails are shown for the first {MAX_THUMBNAILS} images."
    body = (
        f"{styles}<p class='lede'>{e(note)}</p>"
        "<div class='controls'>"
        "<label>Filter rows <input type='search' data-filter='answers' "
        "placeholder='path or generator'></label>"
        f"<label>Decision <select data-filter-by='decision' data-table='answers'>"
        f"<option value='*'>every decision</option>{options}</select></label></div>"
        "<div class='scroll'><table class='board' id='answers' aria-label='attributions'><thead><tr>"
        + "".join(f"<th scope='col'><button type='button' class='sort'>{e(h)}</button></th>" for h in heads)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )
    footer = (
        "Written by <code>modelprint attribute --format=html</code>; similarities are the "
        "gallery method's cosine between each image and each generator's prototype."
    )
    return page(title, body, nav=(), footer=footer)
