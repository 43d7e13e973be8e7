"""The CLI: env, list, check; stacked YAML configs; one-line errors for bad keys and values."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmarks.cli import main
from tests.conftest import run_cli


def test_env_prints_versions_device_fix_threads_and_paths() -> None:
    result = run_cli("env")
    assert result.returncode == 0, result.stderr
    for needle in (
        "torch",
        "lightning",
        "timm",
        "torchmetrics",
        "datasets",
        "wandb",
        "device",
        "torchvision fix",
        "torch threads",
        "cache dir",
        "results store",
    ):
        assert needle in result.stdout, needle


def test_check_passes_on_this_install(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--wandb=false"]) == 0
    out = capsys.readouterr().out
    assert "FAILED" not in out and "results store" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["check", "--wandbb=true"],
            "modelprint check: unknown key 'wandbb'. Did you mean 'wandb'? Valid keys: wandb",
        ),
        (["check", "--wandb=maybe"], "modelprint check: invalid value for key 'wandb'"),
        (["list", "--kind=methd"], "invalid value for key 'kind': Expected a typing.Literal['all', 'method'"),
        (["lst"], "invalid choice: 'lst'"),
        (
            ["gallery", "show", "--gallery=x.safetensors"],
            "modelprint gallery show: 'gallery' is positional: give it without --gallery=, as in "
            "modelprint gallery show GALLERY",
        ),
    ],
)
def test_bad_flags_are_one_line_errors(args: list[str], expected: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert expected in lines[0]


def test_yaml_configs_stack_and_flags_override_them(tmp_path: Path) -> None:
    base, small = tmp_path / "base.yaml", tmp_path / "small.yaml"
    base.write_text(yaml.safe_dump({"pattern": "from_base", "kind": "method"}))
    small.write_text(yaml.safe_dump({"kind": "dataset"}))
    result = run_cli("list", f"--config={base}", f"--config={small}", "--print_config")
    assert yaml.safe_load(result.stdout) == {"pattern": "from_base", "kind": "dataset"}
    result = run_cli("list", f"--config={base}", f"--config={small}", "--kind=protocol", "--print_config")
    assert yaml.safe_load(result.stdout) == {"pattern": "from_base", "kind": "protocol"}


def test_unknown_key_in_a_yaml_config_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"kindd": "method"}))
    result = run_cli("list", f"--config={bad}")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "unknown key 'kindd'" in result.stderr and "Did you mean 'kind'" in result.stderr


def test_list_shows_registered_entries_by_wildcard(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("spectral", "noise_residual", "zoo", "synthetic", "closed_set", "open_set", "zero_shot"):
        assert name in out
    assert main(["list", "spec*", "--kind=method"]) == 0
    out = capsys.readouterr().out
    assert "spectral" in out and "noise_residual" not in out
    assert main(["list", "nothing*"]) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["run", "--methods=[spectral]", "--method_args={spectral: {denoisr: gaussian}}"],
            "method 'spectral' (configs/methods/spectral.yaml and --method_args): unknown key(s) "
            "['denoisr']; valid: denoiser",
        ),
        (["run", "--dataset=synthetic"], "'synthetic' is a training data set"),
        (
            ["run", "--methods=[spectral]", "--method_args={spectral: {denoiser: 3}}"],
            "Parser key \"denoiser\": Expected a <class 'str'>",
        ),
        (["zoo", "build", "--only=[nope]"], "--only names generators not in the recipe: ['nope']; valid:"),
        (["run", "--methods=[spectral]", "--method_args={pose: {epochs: 1}}"], "method_args for methods not"),
        (["extractor", "ablation", "--levels=[nope]"], "unknown ablation level(s) ['nope']"),
        (["run", "--methods=[]"], "--methods=[] selects nothing"),
        (["run", "--protocols=[]"], "--protocols=[] selects nothing"),
        (["run", "--methods=[spectral]", "--seeds=[8,8]"], "seed(s) [8] given twice"),
        (["run", "--methods=[spectral]", "--seeds=[-1]"], "out of range: a seed is an integer in [0, 2**32)"),
        (
            ["run", "--protocols=[closed_set]", "--protocol_args={open_set: {subsets: [unseen_seed]}}"],
            "protocol_args for protocols not in this run: ['open_set']",
        ),
    ],
)
def test_user_mistakes_end_in_one_line_before_any_work(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each is a ModelprintError the CLI prints on one line with exit status 2, no traceback."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and expected in err


def test_the_cli_module_runs_as_a_script() -> None:
    """``python -m benchmarks.cli`` reads the registry the commands register with."""
    import subprocess
    import sys

    line = [sys.executable, "-m", "benchmarks.cli", "--help"]
    done = subprocess.run(line, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0 and "attribute" in done.stdout and "store" in done.stdout
