"""Sweeps: W&B sweep files (``configs/sweeps/*.yaml``) run by a ``wandb agent`` or locally.

A sweep file is a W&B sweep configuration: ``program`` (``benchmarks/sweep_agent.py``),
``command`` (``${env} ${interpreter} ${program} ${args}``), ``method`` (grid | random |
bayes), ``metric`` and ``parameters``. A *trial* is one flat assignment ``--key=value``, the
form an agent passes: ``method``, ``seed``, ``protocols``, ``dataset`` and
``bootstrap_samples`` configure the run, every other key is a constructor argument of the
method (on top of its YAML). A trial is one ``run_benchmark`` call, so its figures land in
the results store with full provenance, and a trial already there is skipped (a killed
sweep resumes). The metric is named ``protocol/split/metric`` (e.g.
``open_set/unseen_all/auroc``) and read back from the store.

Locally (no W&B server): grid = the cartesian product of every ``values`` list; random =
``count`` draws from ``values`` / ``distribution`` (uniform, int_uniform, log_uniform_values,
q_uniform) seeded by the file's ``random_seed``. Bayes needs W&B's server-side engine (the
``sweeps`` package on PyPI is from 2022 and pins old dependencies): it is refused locally
with that reason.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ModelprintError
from core.paths import config_file
from core.yaml_config import load_yaml

#: trial keys that configure the run; every other key is an argument of the method.
#: ``sweep_metric`` (a fixed parameter of every sweep file) tells the agent what to log.
RUN_KEYS = ("method", "seed", "protocols", "dataset", "bootstrap_samples", "sweep_metric")
SWEEP_DIR = config_file("sweeps")


class SweepError(ModelprintError, ValueError):
    """A sweep file or a trial that cannot run; raised before any work starts."""


@dataclass
class Sweep:
    path: Path
    method: str
    metric: dict[str, str]
    parameters: dict[str, dict[str, Any]]
    command: list[str]
    program: str
    random_seed: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, path: Path) -> Sweep:
        if not path.is_file():
            raise SweepError(f"no sweep file at {path}")
        raw = load_yaml(path.read_text()) or {}
        missing = {"method", "metric", "parameters", "program"} - set(raw)
        if missing:
            raise SweepError(f"{path}: missing {sorted(missing)}")
        if raw["method"] not in ("grid", "random", "bayes"):
            raise SweepError(f"{path}: method must be grid, random or bayes; got {raw['method']!r}")
        if "method" not in raw["parameters"]:
            raise SweepError(f"{path}: parameters must name the attribution method (parameters.method)")
        command = raw.get("command", ["${env}", "${interpreter}", "${program}", "${args}"])
        return cls(
            path,
            raw["method"],
            raw["metric"],
            raw["parameters"],
            command,
            raw["program"],
            int(raw.get("random_seed", 0)),
            raw,
        )

    def trials(self, count: int | None = None) -> list[dict[str, Any]]:
        """The assignments a local run goes through (grid: all, or the first ``count``)."""
        if self.method == "bayes":
            raise SweepError(
                "bayes sweeps need the W&B server's engine (run them with `wandb sweep` + `wandb agent`); "
                "locally use grid or random"
            )
        if self.method == "grid":
            names = list(self.parameters)
            choices = [_grid_values(n, self.parameters[n]) for n in names]
            grid = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]
            return grid[:count] if count else grid
        if not count:
            raise SweepError("a random sweep needs --count")
        rng = random.Random(self.random_seed)
        return [{n: _draw(n, spec, rng) for n, spec in self.parameters.items()} for _ in range(count)]


def _grid_values(name: str, spec: dict[str, Any]) -> list[Any]:
    if "value" in spec:
        return [spec["value"]]
    if "values" in spec:
        return list(spec["values"])
    raise SweepError(f"grid parameter {name!r} needs value or values (distributions are for random sweeps)")


def _draw(name: str, spec: dict[str, Any], rng: random.Random) -> Any:
    if "value" in spec:
        return spec["value"]
    if "values" in spec:
        return rng.choice(list(spec["values"]))
    low, high = spec.get("min"), spec.get("max")
    kind = spec.get(
        "distribution", "int_uniform" if isinstance(low, int) and isinstance(high, int) else "uniform"
    )
    if low is None or high is None:
        raise SweepError(f"parameter {name!r}: a distribution needs min and max")
    if kind == "int_uniform":
        return rng.randint(int(low), int(high))
    if kind == "uniform":
        return rng.uniform(low, high)
    if kind == "log_uniform_values":
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    if kind == "q_uniform":
        q = spec.get("q", 1)
        return round(rng.uniform(low, high) / q) * q
    raise SweepError(f"parameter {name!r}: unsupported distribution {kind!r}")


def agent_arguments(trial: dict[str, Any]) -> list[str]:
    """``${args}`` as a W&B agent writes it: one ``--key=value`` per parameter."""
    return [f"--{k}={v}" for k, v in trial.items()]


def parse_agent_arguments(argv: list[str]) -> dict[str, Any]:
    """``--key=value`` flags back to values (YAML scalars: numbers, booleans, lists)."""
    trial = {}
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            raise SweepError(f"sweep arguments are --key=value; got {arg!r}")
        key, value = arg[2:].split("=", 1)
        trial[key] = load_yaml(value) if value else ""
    return trial


def trial_config(trial: dict[str, Any]) -> Any:
    """The :class:`BenchmarkConfig` of one trial (run keys, and the method's arguments)."""
    from benchmarks.plan import BenchmarkConfig

    if "method" not in trial:
        raise SweepError("a trial needs --method=NAME")
    method = str(trial["method"])
    protocols = trial.get("protocols")
    protocols = [protocols] if isinstance(protocols, str) else protocols
    return BenchmarkConfig(
        methods=[method],
        protocols=protocols,
        dataset=str(trial.get("dataset", "zoo")),
        seeds=[int(trial.get("seed", 0))],
        bootstrap_samples=int(trial.get("bootstrap_samples", 200)),
        method_args={method: {k: v for k, v in trial.items() if k not in RUN_KEYS}},
    )


def metric_value(store: Any, cfg: Any, summary: Any, metric: str) -> float | None:
    """The figure ``protocol/split/metric`` of a trial, found in the store by the config hash
    its run (``summary``) keyed the cell by - so a trial skipped on resume still reports it."""
    from benchmarks.plan import cell_label

    protocol_name, split, name = metric.split("/")
    chash = summary.cell_hashes.get(cell_label(cfg.methods[0], protocol_name, cfg.seeds[0]))
    if chash is None:
        return None
    rows = store.figure_rows(
        every_data_version=True,  # this trial's cell, whatever the board shows now
        method=cfg.methods[0],
        protocol=protocol_name,
        split=split,
        metric=name,
        seed=cfg.seeds[0],
        config_hash=chash,
    )
    return float(rows[-1]["value"]) if rows else None


def run_trial(trial: dict[str, Any], store: Any, console: Any = None) -> tuple[Any, Any]:
    """One trial through the runner (skipped cell by cell when already in the store)."""
    from benchmarks.runner import run_benchmark

    cfg = trial_config(trial)
    return cfg, run_benchmark(cfg, store, console=console)


def plot_sweep(rows: list[dict[str, Any]], metric: str, out: Path) -> Path:
    """The metric against each swept parameter (one panel per parameter that varies)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    varying = [k for k in rows[0] if k != metric and len({repr(r[k]) for r in rows}) > 1] or ["trial"]
    fig, axes = plt.subplots(1, len(varying), figsize=(3.6 * len(varying), 3.2), squeeze=False)
    for ax, name in zip(axes[0], varying, strict=True):
        xs = [str(r.get(name, i)) for i, r in enumerate(rows)]
        ys = [r[metric] if r[metric] is not None else float("nan") for r in rows]
        numeric = all(isinstance(r.get(name), int | float) for r in rows)
        ax.plot([r[name] for r in rows] if numeric else xs, ys, "o")
        ax.set(xlabel=name, ylabel=metric)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
