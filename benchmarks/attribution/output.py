"""Attribution answers as a table, JSON lines or CSV, written batch by batch as they come, or
as an HTML report (:mod:`benchmarks.attribution.report`) written when the last batch is done.

Streaming matters for large folders: the first answers are readable (and a killed run keeps
them) long before the last image is embedded. JSON is therefore JSON Lines - one object per
image - which ``jq`` and pandas (``read_json(lines=True)``) read as they are.
"""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from benchmarks.attribution.gallery import Attribution
from core.errors import ConfigError

FORMATS = ("table", "json", "csv", "html")


def as_record(result: Attribution) -> dict[str, Any]:
    """One answer as plain data (the JSON line)."""
    return {
        "path": result.path,
        "decision": result.decision,
        "margin": round(result.margin, 6),
        "candidates": [{"generator": g, "similarity": round(s, 6)} for g, s in result.candidates],
    }


class AnswerWriter:
    """Writes answers in one format to ``stream``; ``write`` takes a batch of good answers."""

    def __init__(
        self,
        stream: TextIO,
        fmt: str,
        top: int,
        references: dict[str, str] | None = None,
        threshold: float = 0.0,
    ) -> None:
        """``references`` (generator -> a reference image) and ``threshold`` serve the report."""
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
        self.stream, self.format, self.top = stream, fmt, top
        self.references, self.threshold = references or {}, threshold
        self.kept: list[Attribution] = []  # the report's answers, written by close()
        self.csv = csv.writer(stream) if fmt == "csv" else None
        if self.csv is not None:
            ranked = [f"{kind}_{k}" for k in range(1, top + 1) for kind in ("generator", "similarity")]
            self.csv.writerow(["path", "decision", "margin", *ranked])
        elif fmt == "table":
            stream.write(f"{'decision':<24} {'margin':>7}  top candidates (cosine)  path\n")

    def write(self, results: list[Attribution]) -> None:
        if self.format == "html":
            self.kept += results
            return
        for result in results:
            if self.format == "json":
                self.stream.write(json.dumps(as_record(result)) + "\n")
            elif self.csv is not None:
                ranked = [x for g, s in result.candidates for x in (g, f"{s:.6f}")]
                self.csv.writerow([result.path, result.decision, f"{result.margin:.6f}", *ranked])
            else:
                candidates = ", ".join(f"{g} {s:.3f}" for g, s in result.candidates)
                self.stream.write(
                    f"{result.decision:<24} {result.margin:7.3f}  {candidates}  {result.path}\n"
                )
        self.stream.flush()

    def close(self) -> None:
        """Write what waits for the last answer (the HTML report)."""
        if self.format == "html":
            from benchmarks.attribution.report import html_report

            self.stream.write(html_report(self.kept, self.references, self.threshold, self.top))
            self.stream.flush()
