"""``modelprint extractor train|park|scaling|ablation``: the flagship's training (kept across
machines by ``park``) and its two studies."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from benchmarks.cli import UsageError, command
from core.paths import config_file, results_store_location

CONFIG_DIR = config_file("extractor")


@command("extractor train")
def extractor_train(
    training_config: Path = CONFIG_DIR / "cpu.yaml",
    out: Path | None = None,
    image_budget: int | None = None,
    num_models: int | None = None,
    space: str | None = None,
    seed: int | None = None,
) -> int:
    """Train the fingerprint extractor on synthetic models only (resumable), record the run.

    Args:
        training_config: the training YAML (cpu.yaml: ~8 min on 2 cores; gpu.yaml: longer).
        out: run directory (default: the cache, keyed by the configuration).
        image_budget: override: training images in total.
        num_models: override: synthetic models.
        space: override: architecture space.
        seed: override: training seed.
    """
    from benchmarks.provenance import record_training
    from core.paths import cache_dir
    from lightning_modules.synthetic_fingerprint.training import ExtractorTrainingConfig, train_extractor

    if not training_config.is_file():
        raise UsageError(f"no training config at {training_config}")
    try:
        cfg = ExtractorTrainingConfig.from_yaml(training_config)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None
    data = {**cfg.data}
    if num_models is not None:
        data["num_models"] = num_models
    if space is not None:
        data["space"] = space
    cfg.data = data
    if image_budget is not None:
        cfg.image_budget = image_budget
    if seed is not None:
        cfg.seed = seed
    out = out or cache_dir() / "extractors" / cfg.key()
    summary = train_extractor(cfg, out)
    if not summary:  # a non-zero rank of a distributed run: rank 0 saves and records
        return 0
    run_id = record_training(cfg, summary, results_store_location())
    console = Console()
    console.print(
        f"trained on {summary['images_seen']:,} images of {summary['num_models']:,} synthetic models "
        f"in {summary['wall_time_s']:.0f} s ({summary['images_per_s']:.0f} img/s) -> {out}"
    )
    console.print(f"recorded run {run_id} in {results_store_location()}")
    return 0


@command("extractor park")
def extractor_park(training_config: Path | None = None, out: Path | None = None) -> int:
    """Keep a training in progress in the repository, so another machine resumes it.

    Copies the run's resumable state (checkpoint, best weights so far, logs) to
    ``lightning_modules/synthetic_fingerprint/in_progress/<key>/``; commit that folder. On the next
    machine the same training (``extractor train``, or the study that holds it) starts from it.
    Delete the folder once the run has finished.

    Args:
        training_config: the training YAML of the run (its run directory is found by its key).
        out: the run directory instead (a study's variant, a run with overrides); its own
            ``config.yaml`` gives the key, and must be ``training_config``'s where both are given.
    """
    from core.paths import cache_dir
    from lightning_modules.synthetic_fingerprint.parking import park
    from lightning_modules.synthetic_fingerprint.training import ExtractorTrainingConfig

    def key_of(path: Path) -> str:
        try:
            return ExtractorTrainingConfig.from_yaml(path).key()
        except (ValueError, TypeError, FileNotFoundError) as error:
            raise UsageError(f"{path}: {error}") from None

    if training_config is None and out is None:
        raise UsageError("name the run: --training_config=YAML, or its run directory --out=DIR")
    if training_config is not None and not training_config.is_file():
        raise UsageError(f"no training config at {training_config}")
    expected = key_of(training_config) if training_config is not None else None
    run = out or cache_dir() / "extractors" / str(expected)
    if not (run / "config.yaml").is_file():
        raise UsageError(f"{run}: no training run there (no config.yaml)")
    key = key_of(run / "config.yaml")
    if expected is not None and expected != key:
        raise UsageError(f"{run} trains another configuration than {training_config} (key {key})")
    try:
        folder, step = park(run, key)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        raise UsageError(str(error)) from None
    Console().print(f"parked step {step:,} of {run} in {folder}: commit it to resume elsewhere")
    return 0


@command("extractor scaling")
def extractor_scaling(study: Path = CONFIG_DIR / "scaling.yaml") -> int:
    """Zero-shot attribution vs number of synthetic models and architecture diversity.

    Trains each variant of the study (cached, resumable), evaluates it with the zero-shot
    protocol on the zoo's unseen generators and records it (protocol ``zero_shot_scaling``);
    `modelprint board` then renders the table and the scaling plot from the store.

    Args:
        study: the study YAML (variants, image budget, zero-shot protocol arguments).
    """
    from benchmarks.studies import ScalingStudy, run_scaling
    from core.paths import cache_dir
    from leaderboards import open_store

    if not study.is_file():
        raise UsageError(f"no scaling study at {study}")
    try:
        spec = ScalingStudy.from_yaml(study)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None
    written = run_scaling(spec, open_store(), cache_dir(), Console())
    Console().print(f"recorded {len(written)} runs in {results_store_location()}")
    return 0


@command("extractor ablation")
def extractor_ablation(study: Path = CONFIG_DIR / "ablation.yaml", levels: list[str] | None = None) -> int:
    """Which of the paper's choices matter: a factorial of extractor variants, zero shot on the zoo.

    Trains every combination of the study's factors (input, denoiser, sampling, space) at one
    budget (cached, resumable), evaluates each with the zero-shot protocol on the zoo's unseen
    generators and records it (protocol ``flagship_ablation``); `modelprint board` renders it.

    Args:
        study: the ablation YAML (factors and their levels, budget, zero-shot arguments).
        levels: run only the variants holding every one of these levels (``[dncnn,fresh]``),
            e.g. to split the study over two one-thread processes.
    """
    from benchmarks.studies import load_ablation, run_ablation
    from core.paths import cache_dir
    from leaderboards import open_store

    if not study.is_file():
        raise UsageError(f"no ablation study at {study}")
    try:
        spec = load_ablation(study)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None
    written = run_ablation(spec, open_store(), cache_dir(), Console(), levels or [])
    Console().print(f"recorded {len(written)} runs in {results_store_location()}")
    return 0
