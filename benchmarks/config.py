"""A benchmark run as the user states it: the one dataclass behind ``modelprint run``, sweeps
and the Python API. Kept free of heavy imports so the command line can describe it at once;
everything derived from it (arguments read from YAML, the data set's label) lives in the plan
(:mod:`benchmarks.plan`), never in the user's config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BenchmarkConfig:
    """One benchmark run: the grid of methods x protocols x seeds on one data set.

    Args:
        methods: registered method names (default: all).
        protocols: registered protocol names (default: all run by default).
        dataset: registered data set name.
        dataset_args: arguments for the data set (e.g. ``{root: path/to/artifact}``).
        seeds: seeds to run; figures on the board average over them.
        bootstrap_samples: bootstrap replicates per confidence interval (0: none).
        protocol_args: per-protocol arguments, e.g. ``{zero_shot: {gallery_per_model: 10}}``.
        method_args: per-method overrides of ``configs/methods/<name>.yaml``.
        batch_size: images per feature-extraction batch.
        retrain: methods that ship a trained checkpoint train from scratch instead of loading it.
        perturbations: robustness track - test splits perturbed, one protocol variant per level
            (``[jpeg:75,blur:1,none]``; kinds: jpeg, webp, resize, nearest, blur, noise, crop,
            aigenbench, delivery; a peer's levels by name: ``genimage``, ``imageattributionbench``,
            ``aigenbench``; see ``docs/robustness.md``).
        reference: the data set whose known splits a data set without known generators (a
            folder of unseen ones) is evaluated against; recorded in each run.
        reference_args: arguments for the reference data set.
        allow_overlap: accept an image in two splits (a deliberate study; off: an error).
        shard: ``i/n`` runs the i-th of n shards of the plan (``$SLURM_ARRAY_TASK_ID/n`` in a
            job array); a (method, seed) group - one fit - stays in one shard.
        rerun: compute the planned cells even where the store holds them (each new run replaces
            the recorded one of its key): after a change that leaves the cells' configuration
            as it was, e.g. a field their records lacked.
        test_crops: 1 (the whole image) or n = 4, 9, 16...: for a method with a fixed input size
            smaller than the images, the features of n windows on an even grid, averaged (the
            official flagship evaluation averages 9).
        wandb: also log each (method, seed) to W&B (online once logged in, else offline under
            the cache); off by default - ``WANDB_PROJECT``/``WANDB_MODE`` or a sweep agent turn
            it on too. Not part of any cell's config: it changes no figure.
        verbose: show what the libraries print (Lightning's banners, W&B's run summaries,
            deprecation warnings), silenced by default. Not part of any cell's config.
    """

    methods: list[str] | None = None
    protocols: list[str] | None = None
    dataset: str = "zoo"
    dataset_args: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    bootstrap_samples: int = 200
    protocol_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    method_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_size: int = 256
    retrain: bool = False
    perturbations: list[str] | str = field(default_factory=list)
    reference: str = "zoo"
    reference_args: dict[str, Any] = field(default_factory=dict)
    allow_overlap: bool = False
    shard: str | None = None
    rerun: bool = False
    test_crops: int = 1
    wandb: bool = False
    verbose: bool = False
