"""A method's zero-shot embedding by the flagship's selection rule, printed (not recorded).

Zero shot among the zoo's *known* generators (``known_val``, episodes within two folds, the
post-processing refitted without each fold: ``ZeroShotProtocol(fit_folds=2)``), clean and at the
robust ablation's delivered levels - the study's own evaluations
(:func:`benchmarks.studies.study_evaluations`, :func:`benchmarks.studies.evaluated_embeddings`);
the rule is the mean of clean and delivered identification.
Valid only for a method whose features were not trained on the known generators (for
``supervised_cnn`` or ``pose`` the known generators are training data, not a selection split).
Features are cached as the benchmark caches them.

    .venv/bin/python scripts/embedding_selection.py noise_residual raw,whitened
    .venv/bin/python scripts/embedding_selection.py spectral standardised,whitened
"""

from __future__ import annotations

import sys

from benchmarks.studies import Embedding, evaluated_embeddings, study_evaluations
from core.seeding import seed_all
from lightning_modules.method_config import build_method

DELIVERED = ["jpeg:75", "resize:0.5", "blur:1", "noise:5", "webp:50"]  # ablation_robust.yaml's


def main(method_name: str, embeddings: list[str], seed: int = 0) -> None:
    evaluations, splits = study_evaluations({}, 0, "known_val", DELIVERED, reported=False)
    for name in embeddings:
        seed_all(seed)
        # built with its embedding: a baseline fits its whitening only where it is chosen
        method = build_method(method_name, {"zero_shot_embedding": name})
        method.fit_extractor(None, None, seed)
        todo = [(evaluation, Embedding(name, "", folded=True)) for evaluation in evaluations]
        figures = []
        for evaluation, [(_, result)] in evaluated_embeddings(method, todo, splits, seed):
            value = {f.metric: f.value for f in result.figures}["identification_accuracy"]
            figures.append((evaluation.perturbation or "clean", value))
        delivered = sum(v for _, v in figures[1:]) / len(figures[1:])
        levels = " ".join(f"{level}={value:.3f}" for level, value in figures)
        print(
            f"{method_name} {name}: {levels} delivered={delivered:.3f} "
            f"selection={(figures[0][1] + delivered) / 2:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2].split(","))
