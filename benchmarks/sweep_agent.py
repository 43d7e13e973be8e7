"""The program of every sweep file: ``wandb agent`` runs ``python benchmarks/sweep_agent.py --key=value ...``.

One trial (see :mod:`benchmarks.sweep`) into the results store; under an agent
(``WANDB_SWEEP_ID`` set) the sweep's metric and the store's run ids are logged to the W&B run
too. W&B is never needed for the figures to reach the store.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file by the agent: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from benchmarks.sweep import SweepError, metric_value, parse_agent_arguments, run_trial
    from leaderboards import open_store

    try:
        trial = parse_agent_arguments(sys.argv[1:] if argv is None else argv)
        metric = str(trial.get("sweep_metric", ""))
        store = open_store()
        cfg, summary = run_trial(trial, store)
    except (SweepError, ValueError, KeyError) as error:
        print(f"sweep_agent: {error}", file=sys.stderr)
        return 2
    value = metric_value(store, cfg, summary, metric) if metric else None
    print(
        f"trial {trial}: {summary.ran} cells run, {summary.skipped} skipped; {metric or 'metric'} = {value}"
    )
    if os.environ.get("WANDB_SWEEP_ID"):
        import wandb

        with wandb.init(config=trial) as run:
            run.log({metric: value} if metric else {})
            run.summary["results_store_run_ids"] = summary.run_ids
    return 0


if __name__ == "__main__":
    sys.exit(main())
