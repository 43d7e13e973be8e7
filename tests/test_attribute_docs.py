"""docs/attribute.md's worked example, run verbatim as a reader of a fresh clone would: its
``export.py`` block, then every command of its shell block, then its Python API block, in a
scratch folder whose ``.venv`` is this interpreter's. The page's promises are checked on what
the commands wrote: a gallery of the zoo's 26 unseen generators with 20 references each, one
answer per query image (104) in the table and in JSON Lines, nothing failed."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "attribute.md"


def fenced_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.mark.slow  # the flagship embeds 624 images and calibrates: about two minutes on two cores
def test_the_worked_example_runs_verbatim(private_paths: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    scratch = private_paths / "clone"
    scratch.mkdir()
    (scratch / ".venv").symlink_to(Path(sys.executable).parent.parent)
    example = PAGE.read_text().split("## A worked example", 1)[1].split("\n## ", 1)[0]
    (export,) = fenced_blocks(example, "python")
    (shell,) = fenced_blocks(example, "bash")
    (scratch / "export.py").write_text(export)
    env_pythonpath = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    outputs = []
    for line in filter(None, (raw.strip() for raw in shell.splitlines())):
        done = subprocess.run(
            shlex.split(line), cwd=scratch, capture_output=True, text=True, timeout=900, env=env_pythonpath
        )
        assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
        outputs.append(done)
    assert sum(1 for _ in (scratch / "refs").iterdir()) == 26
    assert len(list((scratch / "queries").iterdir())) == 104
    shown = outputs[2].stdout
    assert "generators: 26, references: 520" in shown and "unknown threshold:" in shown
    table = [row for row in outputs[3].stdout.splitlines()[1:] if row.strip()]
    assert len(table) == 104 and "104 attributed" in outputs[3].stderr and "0 failed" in outputs[3].stderr
    answers = [json.loads(row) for row in (scratch / "answers.jsonl").read_text().splitlines()]
    assert len(answers) == 104 and all(len(a["candidates"]) == 3 for a in answers)
    report = (scratch / "report.html").read_text()
    assert (
        report.count("<tr data-decision=") == 104 and report.count("data:image/png;base64,") == 104 + 26
    )  # each reference once

    (api,) = fenced_blocks(PAGE.read_text().split("## Python API", 1)[1].split("\n## ", 1)[0], "python")
    done = subprocess.run(
        [sys.executable, "-c", api],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=900,
        env=env_pythonpath,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout.splitlines()) == 1  # the one query's answer
