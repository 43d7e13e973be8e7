"""Closed set: known generators, held-out test images -> top-1 accuracy, macro-F1, and the
one-vs-rest macro AUROC and average precision of the softmax scores (AI-GenBench's and
ImageAttributionBench's figures)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_auroc,
    multiclass_average_precision,
)

from benchmarks.bootstrap import figure_with_interval
from benchmarks.protocols import register_protocol
from benchmarks.protocols.base import Protocol, ProtocolResult
from core.metrics.attribution import confusion_matrix, macro_f1
from leaderboards.judging import HeadlineColumn, Judging
from lightning_modules.base import AttributionMethod, Features


@register_protocol("closed_set")
class ClosedSetProtocol(Protocol):
    """Known generators' test images: top-1 accuracy and macro-F1, bootstrap CIs over images."""

    requires = "closed_set"
    judging = Judging(
        headline=(HeadlineColumn(2, "known_test", "accuracy", "closed-set accuracy"),),
        robustness_metrics=("accuracy",),
    )

    def feature_splits(self) -> tuple[str, ...]:
        return ("known_test",)

    def result_splits(self) -> tuple[str, ...]:
        return ("known_test",)

    def evaluate(
        self, method: AttributionMethod, features: dict[str, Features], seed: int
    ) -> list[ProtocolResult]:
        test = features["known_test"]
        classes = len(test.generator_ids)
        logits = method.logits(test.values)
        probabilities, predicted = logits.softmax(dim=1), logits.argmax(dim=1)
        target = test.labels

        def accuracy(idx: list) -> float:
            return float(multiclass_accuracy(predicted[idx[0]], target[idx[0]], classes, average="micro"))

        def macro_f1_of(idx: list) -> float:
            return macro_f1(predicted[idx[0]], target[idx[0]], classes)

        def one_vs_rest(metric: Callable[..., torch.Tensor]) -> Callable[[list], float]:
            def statistic(idx: list) -> float:
                if target[idx[0]].unique().numel() < classes:  # a resample without some generator
                    raise ValueError("one-vs-rest needs every class present")
                return float(metric(probabilities[idx[0]], target[idx[0]], classes, average="macro"))

            return statistic

        n = [len(target)]
        figures = [
            figure_with_interval("accuracy", accuracy, n, self.bootstrap_samples, seed),
            figure_with_interval("macro_f1", macro_f1_of, n, self.bootstrap_samples, seed),
        ]
        if target.unique().numel() == classes:  # AI-GenBench / ImageAttributionBench's figures
            figures += [
                figure_with_interval(name, one_vs_rest(fn), n, self.bootstrap_samples, seed)
                for name, fn in (
                    ("macro_auroc_ovr", multiclass_auroc),
                    ("macro_ap_ovr", multiclass_average_precision),
                )
            ]
        confusion = confusion_matrix(predicted, target, classes)
        details = {"confusion_matrix": confusion.tolist(), "generators": list(test.generator_ids)}
        return [ProtocolResult("known_test", figures, details)]
