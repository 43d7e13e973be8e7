"""Keep an extractor training in progress in the repository, so it outlives its machine.

A training resumes from ``lightning/last.ckpt`` in its run directory - but that directory is in
the cache, and a machine that is handed back (a CPU session's, a lent GPU's) takes the cache
with it. A run longer than one machine's time (the ten-times candidate: 7-10 hours on one
thread) continues only from a state kept where the next machine finds it: ``in_progress/<key>/``
beside this module, committed with the code. :func:`park` copies a run's resumable state there
(Lightning's checkpoint with its loop, optimiser and data-order state; the best weights so far
on held-out synthetic models and their record; each attempt's CSV log); :func:`adopt` - called
by :func:`~lightning_modules.synthetic_fingerprint.training.train_extractor` before it resumes -
copies it back when the run directory holds no later state, so the run continues to the same
final weights as an uninterrupted one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: parked trainings, one folder per training key (committed: the next machine resumes from it)
IN_PROGRESS = Path(__file__).resolve().parent / "in_progress"
CHECKPOINT = Path("lightning") / "last.ckpt"


def checkpoint_step(path: Path) -> int:
    """The optimiser step a Lightning checkpoint was written at (-1: none). It is read with
    ``weights_only=True``: a checkpoint that needs unpickling of anything else is refused."""
    import torch

    if not path.is_file():
        return -1
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, corrupt, or not a plain checkpoint
        raise ValueError(f"{path}: not a readable training checkpoint ({error})") from None
    return int(state["global_step"])


def park(run: Path, key: str, into: Path = IN_PROGRESS) -> tuple[Path, int]:
    """Copy ``run``'s resumable state to ``into/key`` (replacing an earlier parking of it only
    once the new copy is complete); returns the folder and the step it resumes from."""
    step = checkpoint_step(run / CHECKPOINT)  # a half-written checkpoint fails here, not later
    if step < 0:
        raise FileNotFoundError(f"{run}: no resumable training state ({CHECKPOINT}) to park")
    target = into / key
    staging = into / f".{key}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copytree(run / "lightning", staging / "lightning")
    if (run / "log").is_dir():
        shutil.copytree(run / "log", staging / "log")
    shutil.copy2(run / "config.yaml", staging / "config.yaml")
    if checkpoint_step(staging / CHECKPOINT) != step:  # the run wrote a new one while we copied
        shutil.rmtree(staging)
        raise RuntimeError(f"{run}: its checkpoint changed while it was copied; park it again")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target, step


def adopt(run: Path, key: str, parked: Path = IN_PROGRESS) -> int | None:
    """Start ``run`` from the parked state of ``key`` when that is further on than ``run``'s own
    (or ``run`` has none); returns the step adopted, None when nothing was. Logs of earlier
    attempts come along beside any the run has; none is overwritten."""
    source = parked / key
    step = checkpoint_step(source / CHECKPOINT)
    if step < 0 or step <= checkpoint_step(run / CHECKPOINT):
        return None
    shutil.rmtree(run / "lightning", ignore_errors=True)
    shutil.copytree(source / "lightning", run / "lightning")
    for attempt in sorted((source / "log").glob("version_*")):
        if not (run / "log" / attempt.name).exists():
            shutil.copytree(attempt, run / "log" / attempt.name)
    return step
