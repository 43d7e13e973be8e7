"""``modelprint sweep FILE --local``: a W&B sweep file run without a W&B server."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.cli import UsageError, command


@command("sweep")
def sweep(file: Path, local: bool = False, count: int | None = None, out: Path | None = None) -> int:
    """Run a sweep file's trials here, each into the results store (resumable), then summarise.

    With a W&B server, use ``wandb sweep FILE`` and ``wandb agent ID`` instead: the agent calls
    the same program (``benchmarks/sweep_agent.py``) with ``--key=value`` flags.

    Args:
        file: a W&B sweep YAML (see ``configs/sweeps/``).
        local: run here, without W&B (required: the server path is ``wandb agent``).
        count: trials to run (random: required; grid: the first ``count``, default all).
        out: where the summary plot goes (default: ``sweep-<file stem>.png`` here).
    """
    from benchmarks.sweep import (
        Sweep,
        SweepError,
        agent_arguments,
        metric_value,
        parse_agent_arguments,
        plot_sweep,
        run_trial,
    )
    from leaderboards import open_store

    if not local:
        raise UsageError(f"without a W&B server pass --local; with one: wandb sweep {file} && wandb agent ID")
    try:
        spec = Sweep.from_yaml(file)
        trials = spec.trials(count)
    except SweepError as error:
        raise UsageError(str(error)) from None
    console = Console()
    store = open_store()
    metric = spec.metric["name"]
    rows = []
    for i, trial in enumerate(trials, 1):
        console.print(f"[bold]trial {i}/{len(trials)}[/bold] {trial}")
        try:  # the values exactly as an agent passes them: through --key=value and back
            cfg, summary = run_trial(parse_agent_arguments(agent_arguments(trial)), store, console=console)
        except SweepError as error:
            raise UsageError(str(error)) from None
        rows.append({**trial, metric: metric_value(store, cfg, summary, metric)})
    table = Table(title=f"{file.name}: {metric} ({spec.metric.get('goal', 'maximize')})")
    for key in rows[0]:
        table.add_column(key)
    for row in rows:
        table.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()))
    console.print(table)
    plot = plot_sweep(rows, metric, out or Path(f"sweep-{file.stem}.png"))
    console.print(f"{len(rows)} trials in {store.path}; plot: {plot}")
    return 0
