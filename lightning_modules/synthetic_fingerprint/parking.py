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
final weights as an uninterrupted one on the same hardware (a run parked from several devices
and resumed on one keeps its weights and step, not its data order). Once the run has finished,
delete its folder from ``in_progress/``: a finished run never reads it again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: parked trainings, one folder per training key (committed: the next machine resumes from it)
IN_PROGRESS = Path(__file__).resolve().parent / "in_progress"
CHECKPOINT = Path("lightning") / "last.ckpt"
BEST = (Path("lightning") / "best.safetensors", Path("lightning") / "best.json")


def checkpoint_step(path: Path) -> int:
    """The optimiser step a Lightning checkpoint was written at (-1: none). It is read with
    ``weights_only=True``: a checkpoint that needs unpickling of anything else is refused."""
    import torch

    if not path.is_file():
        return -1
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])
    except Exception as error:  # truncated, corrupt, or not a Lightning checkpoint
        raise ValueError(f"{path}: not a readable training checkpoint ({error!r})") from None


def _stamps(run: Path) -> list[tuple[int, int] | None]:
    """Size and modification time of the checkpoint and the best weights and record."""
    files = [run / CHECKPOINT, *(run / name for name in BEST)]
    return [(f.stat().st_size, f.stat().st_mtime_ns) if f.is_file() else None for f in files]


def park(run: Path, key: str, into: Path = IN_PROGRESS) -> tuple[Path, int]:
    """Copy ``run``'s resumable state to ``into/key``; returns the folder and the step it resumes
    from. A parking further on (or as far) is never replaced, and the earlier one is set aside
    until the new copy is complete; a run that writes while it is copied is refused."""
    step = checkpoint_step(run / CHECKPOINT)  # a half-written checkpoint fails here, not later
    if step < 0:
        raise FileNotFoundError(f"{run}: no resumable training state ({CHECKPOINT}) to park")
    target = into / key
    parked = checkpoint_step(target / CHECKPOINT)
    if parked >= step:
        raise ValueError(f"{target} already holds step {parked:,}; {run} is at step {step:,}: not replaced")
    before = _stamps(run)
    staging, aside = into / f".{key}.partial", into / f".{key}.replaced"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copytree(run / "lightning", staging / "lightning")
    if (run / "log").is_dir():
        shutil.copytree(run / "log", staging / "log")
    shutil.copy2(run / "config.yaml", staging / "config.yaml")
    if _stamps(run) != before or checkpoint_step(staging / CHECKPOINT) != step:
        shutil.rmtree(staging)
        raise RuntimeError(f"{run}: the run wrote its state while it was copied; park it again")
    if (staging / BEST[0]).is_file():
        from safetensors.torch import load_file

        load_file(str(staging / BEST[0]))  # the best weights read back whole
    if target.exists():
        shutil.rmtree(aside, ignore_errors=True)
        target.rename(aside)
    staging.rename(target)
    shutil.rmtree(aside, ignore_errors=True)
    return target, step


def adopt(run: Path, key: str, parked: Path = IN_PROGRESS) -> int | None:
    """Start ``run`` from the parked state of ``key`` when that is further on than ``run``'s own
    (or ``run`` has none); returns the step adopted, None when nothing was. The parked attempts'
    logs come whole; the run's own logs, of a state now replaced, are kept as ``log/replaced-N-*``."""
    source = parked / key
    try:
        step = checkpoint_step(source / CHECKPOINT)
    except ValueError as error:
        raise ValueError(f"{error}: delete {source} to train without it") from None
    if step < 0 or step <= checkpoint_step(run / CHECKPOINT):
        return None
    shutil.rmtree(run / "lightning", ignore_errors=True)
    shutil.copytree(source / "lightning", run / "lightning")
    replaced = len(list((run / "log").glob("replaced-*")))
    for own in sorted((run / "log").glob("version_*")):
        own.rename(own.with_name(f"replaced-{replaced}-{own.name}"))
    if (source / "log").is_dir():
        shutil.copytree(source / "log", run / "log", dirs_exist_ok=True)
    return step
