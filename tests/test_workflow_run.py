"""The leaderboard job's own commands, run the way the job runs them: every ``run:`` line of
``.github/workflows/leaderboard.yml`` but the tests, parsed from the YAML, in a scratch copy of
the repository's scripts and configs, offline, with a Hugging Face cache that holds tiny
stand-ins for CLIP's and DINOv2's weights under their real model names. The benchmark line
gets tiny method arguments and one protocol appended (the job's line itself is unchanged), so
the job cannot drift from the README's commands: its weights step must find and digest every
file, the benchmark must record those digests in each run, the board and the site must be
written."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from safetensors.torch import save_file

from core.hashing import file_digest
from lightning_modules import METHODS
from lightning_modules.frozen_vit import hub_id_of
from lightning_modules.method_config import method_args
from tests.conftest import REPO_ROOT
from tests.tiny_methods import TINY_CLIP, TINY_DINOV2

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "leaderboard.yml"
#: what ``scripts/ensure_venv.sh`` digests into its install stamp, in its order
STAMP_INPUTS = ("pyproject.toml", "scripts/constraints.txt", "scripts/ensure_venv.sh")
#: what the benchmark line gets appended: a tiny run of the methods with downloaded weights
TINY_RUN = {
    "clip_features": {**TINY_CLIP, "random_init": False},
    "dinov2_features": {**TINY_DINOV2, "random_init": False},
}


def stand_in_cache(hub: Path) -> dict[str, str]:
    """Tiny weights under each weighted method's real model name (the cache's own layout:
    ``models--org--name/snapshots/<revision>/model.safetensors`` and ``refs/main``); returns
    method -> the digest every run must record."""
    digests = {}
    for name, args in TINY_RUN.items():
        model = method_args(name)["model"]
        tiny = METHODS.create(name, **method_args(name, {**args, "random_init": True}))
        state = {k: v.clone().contiguous() + 0.25 for k, v in tiny.encoder.vit.state_dict().items()}
        repo = hub / ("models--" + str(hub_id_of(model)).replace("/", "--"))
        snapshot = repo / "snapshots" / ("0" * 40)
        snapshot.mkdir(parents=True)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text("0" * 40)
        save_file(state, str(snapshot / "model.safetensors"))
        digests[name] = file_digest(snapshot / "model.safetensors")
    return digests


def stamped_venv(clone: Path, where: Path) -> Path:
    """This interpreter's environment behind a folder whose install stamp matches the clone, so
    ``scripts/ensure_venv.sh`` reuses it: never a reinstall (which would point the shared
    environment's editable install at the scratch copy)."""
    where.mkdir()
    (where / "bin").symlink_to(Path(sys.executable).parent)
    inputs = b"".join((clone / p).read_bytes() for p in STAMP_INPUTS)
    (where / ".modelprint-install-stamp").write_text(hashlib.sha256(inputs).hexdigest()[:16] + "\n")
    return where


def job_lines() -> list[str]:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["benchmark"]
    return [step["run"] for step in job["steps"] if "run" in step and "scripts/test.sh" not in step["run"]]


@pytest.mark.slow  # the zoo's zero shot for two tiny ViTs, a board and a site: a few minutes
@pytest.mark.timeout(2400)
def test_the_leaderboard_job_runs_offline_with_stand_in_weights(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    for part in ("scripts", "configs", ".github", "README.md", "pyproject.toml"):
        source = REPO_ROOT / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, clone / part)
    venv = stamped_venv(clone, tmp_path / "venv")
    (clone / ".venv").symlink_to(venv)
    digests = stand_in_cache(tmp_path / "hub")
    job_env = yaml.safe_load(WORKFLOW.read_text())["jobs"]["benchmark"]["env"]
    env = {
        **os.environ,
        "MODELPRINT_RESULTS": job_env["MODELPRINT_RESULTS"],  # relative: inside the clone
        "MODELPRINT_CACHE": str(tmp_path / "cache"),
        "MODELPRINT_VENV": str(venv),
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HUB_OFFLINE": "1",
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "PYTHONPATH": str(REPO_ROOT),
    }
    tiny = json.dumps(TINY_RUN)
    appended = (
        " '--methods=[clip_features,dinov2_features]' '--protocols=[zero_shot]'"
        f" --bootstrap_samples=0 '--method_args={tiny}'"
        " '--protocol_args={zero_shot: {gallery_per_model: 5, episodes: 2, pairs_per_episode: 100}}'"
    )
    logs = {}
    for line in job_lines():
        command = line + appended if line.strip() == "scripts/bench.sh" else line
        started = time.perf_counter()
        done = subprocess.run(
            ["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=1800
        )
        print(f"{time.perf_counter() - started:7.1f} s  {line}")
        assert done.returncode == 0, f"{line}\n{done.stdout[-1500:]}\n{done.stderr[-2500:]}"
        logs[line] = done.stdout
    fetched = next(out for line, out in logs.items() if "weights fetch" in line)
    for name, digest in digests.items():
        assert f"{name}: " in fetched and f"digest {digest}" in fetched, fetched
    with sqlite3.connect(clone / job_env["MODELPRINT_RESULTS"]) as conn:
        recorded = dict(conn.execute("SELECT method, config_json FROM runs").fetchall())
    for name, digest in digests.items():
        assert json.loads(recorded[name])["input_files"]["weights"] == digest
    assert "dinov2_features" in (clone / "published" / "board" / "board.md").read_text()
    assert (clone / "site" / "index.html").is_file()
    names = (tmp_path / "github_output").read_text()
    assert "vit_small_patch14_dinov2.lvd142m" in names and "clip_quickgelu" in names
