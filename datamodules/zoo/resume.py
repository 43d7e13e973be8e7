"""Continue a killed generator's training, or its sampling, where it stopped, to the same bytes.

A zoo generator trains in a minute on a GPU but for hours on a CPU (a DDPM), and a build on a
CPU spans sessions that end without warning. :class:`ResumePoint` saves a Lightning checkpoint
at the end of an epoch (at most every ``every_s`` seconds) with the random number generators'
states, so a resumed run draws the same batches and noise as one never stopped: the shuffling
sampler draws each epoch's permutation from torch's global generator when the epoch starts,
which is after the checkpoint. Epoch ends only, because Lightning restarts a non-stateful
loader's epoch from its first batch.

Sampling is the other long step: a width-32 PixelCNN draws its 300 images in about 54 minutes
of a core (1,024 network passes a batch). :class:`SamplingProgress` keeps each finished batch
with the state of the seeded generator after it, so a killed sampling draws only the batches
it had not finished, and the images are those of an unbroken run.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch


def write_whole(path: Path, write: Callable[[Path], object]) -> None:
    """Have ``write`` write a file beside ``path``, then move it onto ``path``: a kill leaves
    the old file or the new one, never half of one."""
    partial = path.with_name(path.name + ".part")
    write(partial)
    os.replace(partial, path)


class ResumePoint(L.Callback):
    """Writes ``path`` (atomically) after an epoch's last batch; restores the RNG states and the
    time spent."""

    def __init__(self, path: Path, every_s: float = 300.0) -> None:
        self.path, self.every_s = path, every_s
        self.earlier_seconds = 0.0  # training time of the attempts before this one
        self.resumed_at: list[int] = []  # the iteration each earlier attempt was resumed from
        self._iterations = 0
        self._started = self._saved = time.monotonic()

    def train_seconds(self) -> float:
        return self.earlier_seconds + time.monotonic() - self._started

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # After an epoch's last batch: Lightning resumes such a checkpoint at the next epoch's
        # start (one written in on_train_epoch_end is resumed as a restarted, unfinished epoch).
        last_batch = batch_idx + 1 == trainer.num_training_batches
        due = time.monotonic() - self._saved >= self.every_s
        if not (last_batch and due) or trainer.global_step >= trainer.max_steps:
            return
        if trainer.logger is not None:
            trainer.logger.save()  # the log up to here is on disk, to be kept on resume
        self._iterations = getattr(pl_module, "iterations", trainer.global_step)
        write_whole(self.path, lambda partial: trainer.save_checkpoint(partial, weights_only=False))
        self._saved = time.monotonic()

    def state_dict(self) -> dict[str, Any]:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
        return {
            "train_seconds": self.train_seconds(),
            "resumed_at": list(self.resumed_at),
            "iterations": self._iterations,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": cuda,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.earlier_seconds = state["train_seconds"]
        self.resumed_at = [*state["resumed_at"], state["iterations"]]
        self._started = time.monotonic()
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])


class SamplingProgress:
    """The batches a sampling has finished, kept in ``path`` (tensors only, written atomically).

    A saved progress belongs to one seed and batch size (the generator's draws depend on both);
    one of another is ignored and overwritten. The caller deletes ``path`` when done."""

    def __init__(self, path: Path, seed: int, batch_size: int) -> None:
        self.path, self.seed, self.batch_size = path, seed, batch_size
        self.seconds = 0.0  # sampling time of the attempts before this one

    def restore(self, gen: torch.Generator) -> list[torch.Tensor]:
        """The finished batches, with ``gen`` set to the state that follows them; none when
        nothing of this seed and batch size was saved."""
        if not self.path.exists():
            return []
        saved = torch.load(self.path, map_location="cpu", weights_only=True)
        if (saved["seed"], saved["batch_size"]) != (self.seed, self.batch_size):
            return []
        gen.set_state(saved["rng"])
        self.seconds = float(saved["seconds"])
        return list(saved["images"].split(self.batch_size))

    def save(self, batches: list[torch.Tensor], gen: torch.Generator, seconds: float) -> None:
        """Keep ``batches`` (all finished so far) and ``gen``'s state after them."""
        state = {
            "seed": self.seed,
            "batch_size": self.batch_size,
            "images": torch.cat(batches),
            "rng": gen.get_state(),
            "seconds": self.seconds + seconds,
        }
        write_whole(self.path, lambda partial: torch.save(state, partial))


def checkpoint_step(path: Path) -> int:
    """The optimiser step a resume checkpoint was written at."""
    return torch.load(path, map_location="cpu", weights_only=True)["global_step"]


EARLIER_LOG = "metrics.earlier.csv"


def _read_log(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.exists():
        return [], []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _write_log(path: Path, logs: list[tuple[list[str], list[dict[str, str]]]]) -> None:
    fields = list(dict.fromkeys(name for names, _ in logs for name in names))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for _, rows in logs:
            writer.writerows(rows)


def set_aside_log(staging: Path, last_step: int) -> None:
    """Keep the log rows of the killed attempts up to the checkpoint in a side file.

    Lightning's CSV logger deletes ``metrics.csv`` when a run starts, and rows written after the
    checkpoint are logged again by the resumed run, so they are dropped."""
    logs = [_read_log(staging / EARLIER_LOG), _read_log(staging / "metrics.csv")]
    kept = [(names, [r for r in rows if int(r["step"]) <= last_step]) for names, rows in logs]
    _write_log(staging / EARLIER_LOG, kept)
    (staging / "metrics.csv").unlink(missing_ok=True)


def join_logs(staging: Path) -> None:
    """Put the earlier attempts' rows back in front of the finished run's ``metrics.csv``."""
    earlier = staging / EARLIER_LOG
    if earlier.exists():
        _write_log(staging / "metrics.csv", [_read_log(earlier), _read_log(staging / "metrics.csv")])
        earlier.unlink()
