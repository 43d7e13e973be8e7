"""Attribution answers as a table, JSON lines or CSV, written batch by batch as they come.

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

FORMATS = ("table", "json", "csv")


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

    def __init__(self, stream: TextIO, fmt: str, top: int) -> None:
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
        self.stream, self.format, self.top = stream, fmt, top
        self.csv = csv.writer(stream) if fmt == "csv" else None
        if self.csv is not None:
            ranked = [f"{kind}_{k}" for k in range(1, top + 1) for kind in ("generator", "similarity")]
            self.csv.writerow(["path", "decision", "margin", *ranked])
        elif fmt == "table":
            stream.write(f"{'decision':<24} {'margin':>7}  top candidates (cosine)  path\n")

    def write(self, results: list[Attribution]) -> None:
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
