"""Shared test setup: offline everything, and a private results store and cache per test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("MODELPRINT_WANDB", "off")  # tests/test_tracking.py turns it on where it is the subject

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def private_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the results store and cache at the test's own directory."""
    monkeypatch.setenv("MODELPRINT_RESULTS", str(tmp_path / "results.sqlite"))
    monkeypatch.setenv("MODELPRINT_CACHE", str(tmp_path / "cache"))
    return tmp_path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``modelprint`` in a fresh interpreter, as a user or a ``wandb agent`` would."""
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO_ROOT,
        env=os.environ.copy(),
        timeout=300,
    )
