"""A method's zero-shot embedding by the flagship's selection rule, printed (not recorded).

Zero shot among the zoo's *known* generators (``known_val``, episodes within two folds, the
post-processing refitted without each fold: ``ZeroShotProtocol(fit_folds=2)``), clean and at the
robust ablation's delivered levels; the rule is the mean of clean and delivered identification.
Valid only for a method whose features were not trained on the known generators (for
``supervised_cnn`` or ``pose`` the known generators are training data, not a selection split).
Features are cached as the benchmark caches them.

    .venv/bin/python scripts/embedding_selection.py noise_residual raw,whitened
    .venv/bin/python scripts/embedding_selection.py spectral standardised,whitened
"""

from __future__ import annotations

import sys

from benchmarks.feature_cache import FeatureCache
from benchmarks.featurise import cached_extract
from benchmarks.protocols.base import FIT_SPLITS
from benchmarks.protocols.zero_shot import ZeroShotProtocol
from benchmarks.runner import load_named_splits
from benchmarks.studies import study_levels
from core.seeding import seed_all
from datamodules.perturbations import perturbed_split
from lightning_modules.base import Features
from lightning_modules.method_config import build_method

DELIVERED = ["jpeg:75", "resize:0.5", "blur:1", "noise:5", "webp:50"]  # ablation_robust.yaml's


def main(method_name: str, embeddings: list[str], seed: int = 0) -> None:
    splits = load_named_splits("zoo", {"include_real": False}, FIT_SPLITS)  # generators only, as the study
    protocol = ZeroShotProtocol(split="known_val", bootstrap_samples=0, fit_folds=2)
    cache = FeatureCache()
    for embedding in embeddings:
        seed_all(seed)
        method = build_method(method_name, {"zero_shot_embedding": embedding})
        method.fit_extractor(None, None, seed)

        def features_of(split: object, method: object = method) -> Features:
            values = cached_extract(method, split, split.name, cache, 256)  # type: ignore[attr-defined]
            return Features(split.name, values, split.labels, split.generator_ids)  # type: ignore[attr-defined]

        clean = {name: features_of(splits[name]) for name in FIT_SPLITS}
        method.fit_head(clean["known_train"], clean["known_val"], seed)
        figures = []
        for level in study_levels(DELIVERED):
            features = dict(clean)
            if level is not None:
                features["known_val"] = features_of(perturbed_split(splits["known_val"], level))
            [result] = protocol.evaluate(method, features, seed)
            value = {f.metric: f.value for f in result.figures}["identification_accuracy"]
            figures.append((level.spec if level is not None else "clean", value))
        delivered = sum(v for _, v in figures[1:]) / len(figures[1:])
        levels = " ".join(f"{name}={value:.3f}" for name, value in figures)
        print(
            f"{method_name} {embedding}: {levels} delivered={delivered:.3f} "
            f"selection={(figures[0][1] + delivered) / 2:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2].split(","))
