"""Detection: real vs generated, beside attribution - can a method's features say "not made by
a generator" before saying which one, also for generators it never saw?

A logistic-regression probe (the suite's :class:`LinearProbe`, C chosen on validation) is fitted
on the method's features of the known generators' training images (generated) and the real
training images; the decision threshold is the one that maximises balanced accuracy on the
known-val and real-val images. Reported per generated set - the known generators' test images
(``known_test``) and each unseen subset - against the real test images: AUROC and average
precision (generated = positive), and accuracy and balanced accuracy at that threshold (the
sets are unbalanced: 7,800 unseen images against 200 real ones on the zoo, so plain accuracy
mostly counts generated images). As AI-GenBench and ImageAttributionBench report detection;
the probe makes every method serve it with no method edit.

Real images: the zoo's are the generators' own training images (``real_train`` / ``real_val``
/ ``real_test``, split by index as the known generators' images are), as GenImage's real class
is ImageNet, the data most of its generators trained on. A data set without real images
leaves this protocol out. Where the known splits hold real images as a class (the zoo's
``include_real``), those are left out of the generated side.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.classification import binary_auroc, binary_average_precision, binary_roc

from benchmarks.bootstrap import figure_with_interval
from benchmarks.protocols import register_protocol
from benchmarks.protocols.base import FIT_SPLITS, ProtocolResult, SubsetProtocol, downsample_curve
from benchmarks.protocols.open_set import UNSEEN_SUBSETS
from benchmarks.split_integrity import REAL_SPLITS
from datamodules.zoo.datamodule import REAL_CLASS
from leaderboards.judging import Judging
from lightning_modules.base import AttributionMethod, Features
from lightning_modules.heads import LinearProbe

GENERATED_SETS = ("known_test", *UNSEEN_SUBSETS)


def balanced_threshold(real: torch.Tensor, generated: torch.Tensor) -> float:
    """The score threshold (generated when score >= it) with the best balanced accuracy on
    these images; ties go to the lowest such threshold."""
    candidates = torch.cat([real, generated]).unique()
    best, best_score = float(candidates[0]), -1.0
    for t in candidates.tolist():
        score = float(((real < t).float().mean() + (generated >= t).float().mean()) / 2)
        if score > best_score:
            best, best_score = t, score
    return best


@register_protocol("detection")
class DetectionProtocol(SubsetProtocol):
    """Real vs generated images: a probe on the method's features, per generated set."""

    requires = "detection"
    # one run per generated set: a detector is read by the generators it never saw
    judging = Judging(robustness_metrics=("auroc",), robustness_splits=("unseen_all",))
    valid_subsets = GENERATED_SETS

    def restricted(self, absent: set[str]) -> DetectionProtocol | None:
        """No real images: cannot run. Unseen groups the data set lacks: reported on the others."""
        if absent & set(REAL_SPLITS):
            return None
        return super().restricted(absent)

    def feature_splits(self) -> tuple[str, ...]:
        return ("known_train", "known_val", *REAL_SPLITS, *self.subsets)

    def fit_splits(self) -> tuple[str, ...]:
        """The probe is fitted on known-train vs real-train and thresholded on the val pair."""
        return (*FIT_SPLITS, "real_train", "real_val")

    def evaluate(
        self, method: AttributionMethod, features: dict[str, Features], seed: int
    ) -> list[ProtocolResult]:
        features = {name: f.without(REAL_CLASS) for name, f in features.items()}

        def labelled(generated: str, real: str) -> tuple[torch.Tensor, torch.Tensor]:
            x = torch.cat([features[generated].values, features[real].values])
            y = torch.cat(
                [torch.ones(len(features[generated].values)), torch.zeros(len(features[real].values))]
            )
            return x, y.long()

        probe = LinearProbe(seed=seed)
        fitted = probe.fit(*labelled("known_train", "real_train"), *labelled("known_val", "real_val"))

        def score(split: str) -> torch.Tensor:
            return probe.logits(features[split].values)[:, 1]  # the logit of "generated"

        threshold = balanced_threshold(score("real_val"), score("known_val"))
        real = score("real_test")
        results = []
        for subset in self.subsets:
            generated = score(subset)

            def both(idx: list, generated: torch.Tensor = generated) -> tuple[torch.Tensor, torch.Tensor]:
                scores = torch.cat([generated[idx[1]], real[idx[0]]])
                is_generated = torch.cat([torch.ones(len(idx[1])), torch.zeros(len(idx[0]))]).long()
                return scores, is_generated

            def auroc(idx: list) -> float:
                return float(binary_auroc(*both(idx)))

            def average_precision(idx: list) -> float:
                return float(binary_average_precision(*both(idx)))

            def accuracy(idx: list) -> float:
                scores, is_generated = both(idx)
                return float(((scores >= threshold).long() == is_generated).float().mean())

            def balanced_accuracy(idx: list, generated: torch.Tensor = generated) -> float:
                caught = (generated[idx[1]] >= threshold).float().mean()
                passed = (real[idx[0]] < threshold).float().mean()
                return float((caught + passed) / 2)

            sizes = [len(real), len(generated)]
            figures = [
                figure_with_interval(name, fn, sizes, self.bootstrap_samples, seed)
                for name, fn in (
                    ("auroc", auroc),
                    ("average_precision", average_precision),
                    ("accuracy", accuracy),
                    ("balanced_accuracy", balanced_accuracy),
                )
            ]
            scores, is_generated = both([torch.arange(len(real)), torch.arange(len(generated))])
            fpr, tpr, _ = binary_roc(scores, is_generated)
            labels = features[subset].labels
            caught = {
                name: float((generated[labels == label] >= threshold).float().mean())
                for label, name in enumerate(features[subset].generator_ids)
                if (labels == label).any()
            }
            details = {
                "roc": downsample_curve(fpr, tpr),
                "threshold": threshold,
                "real_images": len(real),
                "generated_images": len(generated),
                "real_passed": float((real < threshold).float().mean()),
                "per_generator_detected": caught,
                "probe": fitted,
            }
            results.append(ProtocolResult(subset, figures, details))
        return results
