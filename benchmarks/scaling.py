"""The scaling study behind the paper's claim (Yang et al., arXiv 2307.15977, their Fig. on
the number of synthetic models and on architecture diversity): zero-shot identification and
verification on the zoo's unseen generators as the number of synthetic models grows at a
fixed image budget, and as the architecture space is restricted (one up-sampling type).

Each variant trains an extractor (cached per configuration, resumable) and is evaluated by
the same ``zero_shot`` protocol as the leaderboard; figures go to the results store under
protocol ``zero_shot_scaling`` with method ``synthetic_fingerprint[<space>,<models>]``, so the
board's table and the scaling plot come from the store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.yaml_config import read_dataclass_yaml
from lightning_modules.synthetic_fingerprint.training import ExtractorTrainingConfig, train_extractor

PROTOCOL = "zero_shot_scaling"


@dataclass
class ScalingStudy:
    """Variants (``num_models``, ``space``) trained from ``base_config`` at ``image_budget``."""

    base_config: str = "cpu.yaml"
    image_budget: int = 20_000
    images_per_group: int = 2
    models_per_batch: int = 32
    variants: list[dict[str, Any]] = field(default_factory=list)
    zero_shot: dict[str, Any] = field(default_factory=dict)
    bootstrap_samples: int = 200
    seed: int = 0

    @classmethod
    def from_yaml(cls, path: Path) -> ScalingStudy:
        study = cls(**read_dataclass_yaml(cls, path))
        study.base_config = str((path.parent / study.base_config).resolve())
        return study

    def training_config(self, num_models: int, space: str) -> ExtractorTrainingConfig:
        """The base training config at this study's budget, for one variant."""
        base = ExtractorTrainingConfig.from_yaml(self.base_config)
        k = self.images_per_group
        per_model = max(k, self.image_budget // num_models // k * k)
        data = {
            **base.data,
            "num_models": num_models,
            "space": space,
            "images_per_model": per_model,
            "images_per_group": k,
            "models_per_batch": self.models_per_batch,
            "val_fraction": 0.0,
            "interleave": True,
            "cache_models": min(num_models, 2048),
        }
        return replace(base, data=data, image_budget=self.image_budget, seed=self.seed)


def variant_name(space: str, num_models: int) -> str:
    return f"synthetic_fingerprint[{space},{num_models}]"


def run_scaling(study: ScalingStudy, store: Any, cache: Path, console: Any) -> list[str]:
    """Train and evaluate every variant not yet in the store; returns the run ids written."""
    from benchmarks.protocols.zero_shot import ZeroShotProtocol
    from benchmarks.provenance import run_record
    from benchmarks.runner import BenchmarkConfig, extract, load_splits
    from core.hashing import config_hash
    from core.seeding import seed_all
    from leaderboards.store import RunKey
    from lightning_modules.base import Features
    from lightning_modules.synthetic_fingerprint.methods import SyntheticFingerprintMethod

    protocol = ZeroShotProtocol(bootstrap_samples=study.bootstrap_samples, **study.zero_shot)
    splits = load_splits(BenchmarkConfig(dataset="zoo"), protocol.feature_splits())
    written = []
    for variant in study.variants:
        num_models, space = int(variant["num_models"]), str(variant.get("space", "paper"))
        cfg = study.training_config(num_models, space)
        name = variant_name(space, num_models)
        config = {
            "training": cfg.key(),
            "num_models": num_models,
            "space": space,
            "protocol": protocol.config(),
        }
        data_hash = splits[protocol.split].data_hash
        key = RunKey(name, PROTOCOL, "zoo", protocol.split, study.seed, config_hash(config), data_hash)
        if store.has_run(key):
            console.print(f"{name}: already in the store")
            continue
        start = time.perf_counter()
        directory = cache / "extractors" / cfg.key()
        summary = train_extractor(cfg, directory, quiet=True)
        seed_all(study.seed)
        method = SyntheticFingerprintMethod(checkpoint=str(directory))
        method.fit_extractor(None, None, study.seed)
        features = {
            s: Features(s, extract(method, splits[s], 256), splits[s].labels, splits[s].generator_ids)
            for s in protocol.feature_splits()
        }
        for result in protocol.evaluate(method, features, study.seed):
            record = run_record(
                method=name,
                protocol=PROTOCOL,
                dataset="zoo",
                split=result.split,
                seed=study.seed,
                config=config,
                data_hash=data_hash,
                wall_time_s=time.perf_counter() - start,
                details={"num_models": num_models, "space": space, "training": summary, **result.details},
            )
            written.append(store.write_run(record, result.figures))
            figures = {f.metric: f.value for f in result.figures}
            console.print(
                f"{name}: identification {figures.get('identification_accuracy', float('nan')):.3f}, "
                f"verification AUROC {figures.get('verification_auroc', float('nan')):.3f} "
                f"({summary['wall_time_s']:.0f} s training)"
            )
    return written
