"""What this installation is: package versions, device, threads, paths, git revision.

The same facts are recorded with every run in the results store (provenance), and printed
by ``modelprint env``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import subprocess
from pathlib import Path

from benchmarks import torchvision_compat
from core import paths
from leaderboards.postgres_store import redacted

TRACKED_PACKAGES = (
    "torch",
    "lightning",
    "timm",
    "torchmetrics",
    "datasets",
    "wandb",
    "torchvision",
    "jsonargparse",
    "numpy",
    "scikit-learn",
)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed version of each package, or ``"not installed"``."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description() -> str:
    """The accelerator torch would use: ``cuda:0 (NVIDIA H100 ...)``, ``mps`` or ``cpu``."""
    import torch

    if torch.cuda.is_available():
        return f"cuda:0 ({torch.cuda.get_device_name(0)}) x{torch.cuda.device_count()}"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


#: outputs the suite itself writes into the tree (the published store, board and the README's
#: board section): edits to them do not make the *code* dirty
OUTPUT_PATHS = (":!published", ":!README.md")


@functools.cache
def git_revision(root: Path | None = None) -> str:
    """The git commit of the code that produced a figure, ``+dirty`` when code has edits."""
    cwd = root or Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *OUTPUT_PATHS],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("MODELPRINT_GIT_SHA", "unknown")
    return f"{sha}+dirty" if dirty else sha


def environment_report() -> dict[str, object]:
    """Everything ``modelprint env`` prints, as a flat mapping."""
    torchvision_compat.ensure_torchvision_ops()
    import torch

    return {
        "versions": package_versions(),
        "device": device_description(),
        "torchvision fix": torchvision_compat.fix_state(),
        "torch threads": torch.get_num_threads(),
        "cpu count": os.cpu_count(),
        "cache dir": str(paths.cache_dir()),
        "results store": redacted(str(paths.results_store_location())),
        "git revision": git_revision(),
    }
