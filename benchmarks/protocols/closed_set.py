"""Closed set: known generators, held-out test images -> top-1 accuracy and macro-F1."""

from __future__ import annotations

from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
)

from benchmarks.bootstrap import figure_with_interval
from benchmarks.protocols import register_protocol
from benchmarks.protocols.base import Protocol, ProtocolResult
from lightning_modules.base import AttributionMethod, Features


@register_protocol("closed_set")
class ClosedSetProtocol(Protocol):
    """Known generators' test images: top-1 accuracy and macro-F1, bootstrap CIs over images."""

    requires = "closed_set"

    def feature_splits(self) -> tuple[str, ...]:
        return ("known_test",)

    def result_splits(self) -> tuple[str, ...]:
        return ("known_test",)

    def evaluate(
        self, method: AttributionMethod, features: dict[str, Features], seed: int
    ) -> list[ProtocolResult]:
        test = features["known_test"]
        classes = len(test.generator_ids)
        predicted = method.logits(test.values).argmax(dim=1)
        target = test.labels

        def accuracy(idx: list) -> float:
            return float(multiclass_accuracy(predicted[idx[0]], target[idx[0]], classes, average="micro"))

        def macro_f1(idx: list) -> float:
            return float(multiclass_f1_score(predicted[idx[0]], target[idx[0]], classes, average="macro"))

        n = [len(target)]
        figures = [
            figure_with_interval("accuracy", accuracy, n, self.bootstrap_samples, seed),
            figure_with_interval("macro_f1", macro_f1, n, self.bootstrap_samples, seed),
        ]
        confusion = multiclass_confusion_matrix(predicted, target, classes)
        details = {"confusion_matrix": confusion.tolist(), "generators": list(test.generator_ids)}
        return [ProtocolResult("known_test", figures, details)]
