"""Names from the results store, made inert for each place the board renders them.

Method, protocol, data-set, split, generator and metric names and weights notes come from the
store, which anyone may have written (a generator is a folder name, a data set is what a user
called it), so each renderer gets a name only through its function here: a ``$`` must not start
matplotlib's mathtext, a ``|`` or a newline must not split a Markdown table, a ``_`` or ``%``
must not break the LaTeX, a ``<script>`` must stay text in the HTML, and ``[/x]`` must not be
read as console markup. Keeping every escape in one module is what lets one fuzz test
(``tests/test_hostile_names.py``) vouch for all of them.

Ordinary names (letters, digits and ``_ - . : [ ] , @``) come out unchanged by every function
except :func:`latex_text`, which escapes ``_`` as it always has, so the published board does not
change. CSV and JSON need no function: ``csv`` quotes and ``json`` escapes whatever they are given.
"""

from __future__ import annotations

import html
import re

from rich.text import Text

#: a line break in any spelling CommonMark and LaTeX treat as one
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

#: zero-width space: keeps a leading ``_`` visible to matplotlib's legend, drawn as nothing
_ZERO_WIDTH_SPACE = "\u200b"

_LATEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def matplotlib_text(name: str) -> str:
    """A name for a matplotlib title, axis label or tick label, shown as it is spelt.

    Outside ``$...$`` nothing is special to mathtext, and an even count of unescaped ``$``
    turns a whole string into maths (``$x$`` in italics; ``$\\frac$`` raises and the board
    exits before writing anything). Each ``$`` becomes ``\\$``, which matplotlib reads back as
    ``$`` and never counts: text it already holds (``a\\$``) still round-trips, since a
    backslash is not otherwise an escape in plain text. (The board draws with mathtext and no
    ``usetex``, matplotlib's default.)
    """
    return name.replace("$", r"\$")


def matplotlib_label(name: str) -> str:
    """A name for a legend entry: :func:`matplotlib_text`, and a leading ``_`` kept.

    matplotlib's legend silently leaves out every artist whose label starts with ``_`` (its
    ``_nolegend_`` convention), so a method named ``_probe`` would vanish from the key; an
    invisible zero-width space in front keeps it (DejaVu Sans has the glyph: no warning).
    """
    text = matplotlib_text(name)
    return _ZERO_WIDTH_SPACE + text if text.startswith("_") else text


def markdown_text(name: str) -> str:
    """A name for a Markdown table cell or heading: shown as text, one cell, one line.

    HTML is escaped (a README renders raw HTML; quotes are left, as no attribute is written),
    a backslash is doubled so it is shown rather than read as an escape (``a\\_b``), ``|`` is
    escaped so it does not start a new cell, and a line break becomes ``<br>`` so the row goes on.
    """
    text = html.escape(name, quote=False).replace("\\", "\\\\").replace("|", "\\|")
    return _LINE_BREAK.sub("<br>", text)


def latex_text(name: str) -> str:
    """A name for LaTeX text mode (table cells, the ``%`` comment above each table).

    The ten specials ``\\ & % $ # _ { } ~ ^`` are escaped, ``<`` and ``>`` spelt as their text
    commands (OT1 fonts draw the bare characters as ``¡ ¿``), and a line break becomes a space:
    in the comment line it would end the comment and spill the rest of the name into the
    document. ``|`` is left: it compiles, and the selection tables' titles have always held one.
    """
    return "".join(_LATEX_SPECIAL.get(c, c) for c in _LINE_BREAK.sub(" ", name))


def html_text(name: str) -> str:
    """A name for HTML text or a quoted attribute value: ``& < > " '`` escaped."""
    return html.escape(name, quote=True)


def console_text(message: str) -> Text:
    """A console line holding names, printed by rich as it is spelt.

    A string given to ``Console.print`` is read as markup (``synthetic_fingerprint[off,fixed,224]``
    loses its ``[...]``; ``[/x]`` raises) and emoji codes (``:100:``); a ``Text`` is neither.
    """
    return Text(message)
