"""Sweep files run as a ``wandb agent`` runs them, and locally without a W&B server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks.sweep import SWEEP_DIR, Sweep, SweepError, agent_arguments, parse_agent_arguments
from leaderboards.store import ResultsStore
from tests.conftest import REPO_ROOT, run_cli
from tests.tiny_methods import TINY_CLIP, TINY_EXTRACTOR, TINY_POSE

SWEEP_FILES = sorted(SWEEP_DIR.glob("*.yaml"))
#: per method, the flags that make a trial tiny (appended after the agent's own: later wins)
TINY_FLAGS = {
    "clip_features": {**TINY_CLIP, "bootstrap_samples": 0},
    "pose": {**TINY_POSE, "num_augmenters": 1, "bootstrap_samples": 0},
    "synthetic_fingerprint": {"training_config": TINY_EXTRACTOR, "num_models": 6, "bootstrap_samples": 0},
}


def agent_command(sweep: Sweep, trial: dict) -> list[str]:
    """The command line ``wandb agent`` builds: ``command`` with its macros expanded."""
    macros = {"${env}": ["/usr/bin/env"], "${interpreter}": [sys.executable], "${program}": [sweep.program]}
    flags = agent_arguments(trial)
    command = []
    for part in sweep.command:
        command.extend(flags if part == "${args}" else macros.get(part, [part]))
    return command


def test_every_sweep_file_is_a_valid_wandb_sweep() -> None:
    assert {p.stem for p in SWEEP_FILES} >= {"pose_augmenters", "clip_blocks", "extractor_models"}
    for path in SWEEP_FILES:
        raw = yaml.safe_load(path.read_text())
        assert raw["command"] == ["${env}", "${interpreter}", "${program}", "${args}"]
        assert raw["parameters"]["sweep_metric"]["value"] == raw["metric"]["name"]
        assert (REPO_ROOT / raw["program"]).is_file()


@pytest.mark.parametrize("path", SWEEP_FILES, ids=[p.stem for p in SWEEP_FILES])
def test_the_agent_command_line_of_each_sweep_lands_in_the_store(path: Path, tmp_path: Path) -> None:
    sweep = Sweep.from_yaml(path)
    trial = sweep.trials(1)[0]
    tiny = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in TINY_FLAGS[trial["method"]].items()}
    command = agent_command(sweep, {**trial, **tiny})
    assert command[:3] == ["/usr/bin/env", sys.executable, "benchmarks/sweep_agent.py"]
    env = dict(os.environ, MODELPRINT_RESULTS=str(tmp_path / "r.sqlite"), MODELPRINT_CACHE=str(tmp_path))
    env.pop("WANDB_SWEEP_ID", None)
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    protocol = sweep.metric["name"].split("/")[0]
    runs = ResultsStore(tmp_path / "r.sqlite").runs(method=trial["method"], protocol=protocol)
    assert runs, f"no {protocol} run of {trial['method']} in the store"
    assert sweep.metric["name"] in done.stdout and "= None" not in done.stdout


def test_a_local_sweep_runs_every_trial_resumes_and_summarises(tmp_path: Path) -> None:
    spec = {
        "program": "benchmarks/sweep_agent.py",
        "method": "grid",
        "metric": {"name": "closed_set/known_test/accuracy", "goal": "maximize"},
        "parameters": {
            "sweep_metric": {"value": "closed_set/known_test/accuracy"},
            "method": {"value": "spectral"},
            "protocols": {"value": "[closed_set]"},
            "bootstrap_samples": {"value": 0},
            "denoiser": {"values": ["median3", "gaussian"]},
        },
    }
    path = tmp_path / "spectral.yaml"
    path.write_text(yaml.safe_dump(spec))
    plot = tmp_path / "sweep.png"
    first = run_cli("sweep", str(path), "--local", f"--out={plot}")
    assert first.returncode == 0, first.stderr
    assert "gaussian" in first.stdout and "median3" in first.stdout and plot.stat().st_size > 0
    store = ResultsStore(Path(os.environ["MODELPRINT_RESULTS"]))
    assert len(store.runs(method="spectral")) == 2
    again = run_cli("sweep", str(path), "--local", f"--out={plot}")  # resumes: nothing re-run
    assert again.returncode == 0 and len(store.runs(method="spectral")) == 2
    assert "2 trials" in again.stdout


def test_sweep_errors_are_clear(tmp_path: Path) -> None:
    bayes = tmp_path / "bayes.yaml"
    bayes.write_text(
        yaml.safe_dump(
            {
                "program": "p",
                "method": "bayes",
                "metric": {"name": "a/b/c"},
                "parameters": {"method": {"value": "spectral"}},
            }
        )
    )
    with pytest.raises(SweepError, match="bayes sweeps need"):
        Sweep.from_yaml(bayes).trials(2)
    random_sweep = Sweep.from_yaml(SWEEP_DIR / "extractor_models.yaml")
    with pytest.raises(SweepError, match="needs --count"):
        random_sweep.trials()
    assert len(random_sweep.trials(3)) == 3 and random_sweep.trials(3) == random_sweep.trials(3)
    with pytest.raises(SweepError, match="--key=value"):
        parse_agent_arguments(["method", "pose"])
    assert parse_agent_arguments(["--seed=1", "--blocks=[-1]", "--head=knn"]) == {
        "seed": 1,
        "blocks": [-1],
        "head": "knn",
    }
    no_local = run_cli("sweep", str(SWEEP_DIR / "pose_augmenters.yaml"))
    assert no_local.returncode == 2 and "wandb agent" in no_local.stderr
    with pytest.raises(SweepError, match="no sweep file"):
        Sweep.from_yaml(tmp_path / "missing.yaml")
