"""Open-set and zero-shot attribution metrics: a functional core and a ``torchmetrics.Metric`` each.

* OSCR, the open-set classification rate (Dhamija et al. 2018; Chen et al. 2021, used by
  POSE): the area under the curve of correct-classification rate on knowns (correct *and*
  accepted) against false-positive rate on unknowns, as the acceptance threshold sweeps.
* Identification: N-way nearest-centroid matching by cosine similarity against a gallery of
  K reference images per model (Yang et al. 2023's 1-vs-N protocol).
* Verification: cosine similarity of image pairs, same model or not -> AUROC, accuracy at
  the equal-error-rate threshold, TAR at a fixed FAR, and accuracy at a threshold chosen
  elsewhere (on validation pairs: the honest figure).

Ties: thresholds sweep over *unique* scores, so tied known/unknown scores move both rates
together (a diagonal step, as in ROC analysis); a query equidistant from two centroids goes
to the lower label (``argmax`` picks the first).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.functional.classification import binary_auroc, binary_roc
from torchmetrics.utilities import dim_zero_cat


def class_counts(
    predicted: torch.Tensor, target: torch.Tensor, classes: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class true positives, false positives and false negatives of single-label
    predictions, in memory linear in images and classes.

    ``torch.bincount`` on CPU is deterministic; torchmetrics, with deterministic algorithms on
    (``core.seeding.seed_all``), replaces it by an images x classes^2 mesh - gigabytes at a few
    hundred generators - so the suite counts on CPU itself, with the same results.
    """
    predicted, target = predicted.long().cpu(), target.long().cpu()
    tp = torch.bincount(target[predicted == target], minlength=classes)
    fp = torch.bincount(predicted, minlength=classes) - tp
    fn = torch.bincount(target, minlength=classes) - tp
    return tp, fp, fn


def macro_f1(predicted: torch.Tensor, target: torch.Tensor, classes: int) -> float:
    """Macro-averaged F1 over the classes that occur (in predictions or targets) - torchmetrics'
    ``multiclass_f1_score(average="macro")``, computed by :func:`class_counts`."""
    tp, fp, fn = class_counts(predicted, target, classes)
    denominator = (2 * tp + fn + fp).float()
    score = torch.where(denominator > 0, 2 * tp.float() / denominator.clamp(min=1), torch.zeros(()))
    weights = (denominator > 0).float()  # float32 and this order of operations: torchmetrics' values
    total = weights.sum()
    return float((weights * score / total).sum()) if total > 0 else 0.0


def confusion_matrix(predicted: torch.Tensor, target: torch.Tensor, classes: int) -> torch.Tensor:
    """Rows true class, columns predicted: one ``bincount`` of ``target * classes + predicted``
    (memory: the matrix itself, not a mesh per image)."""
    predicted, target = predicted.long().cpu(), target.long().cpu()
    return torch.bincount(target * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def oscr_curve(
    known_scores: torch.Tensor, known_correct: torch.Tensor, unknown_scores: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(FPR on unknowns, CCR on knowns) for every threshold, from (0, 0) to the lowest score.

    One sort and two cumulative sums (O(N log N)); a threshold ``t`` accepts scores ``>= t``,
    so each group of tied scores enters at once.
    """
    if len(known_scores) == 0 or len(unknown_scores) == 0:
        raise ValueError("OSCR needs at least one known and one unknown sample")
    scores = torch.cat([known_scores, unknown_scores])
    order = torch.argsort(scores, descending=True, stable=True)
    ordered = scores[order]
    is_unknown = torch.cat([torch.zeros_like(known_scores), torch.ones_like(unknown_scores)]).bool()[order]
    correct = torch.cat([known_correct.bool(), torch.zeros_like(unknown_scores, dtype=torch.bool)])[order]
    last_of_group = torch.ones_like(ordered, dtype=torch.bool)
    last_of_group[:-1] = ordered[1:] != ordered[:-1]
    ccr = correct.float().cumsum(0)[last_of_group] / len(known_scores)
    fpr = is_unknown.float().cumsum(0)[last_of_group] / len(unknown_scores)
    zero = torch.zeros(1)
    return torch.cat([zero, fpr]), torch.cat([zero, ccr])


def oscr(
    known_scores: torch.Tensor, known_correct: torch.Tensor, unknown_scores: torch.Tensor
) -> torch.Tensor:
    """Area under the OSCR curve (trapezoid rule over FPR); 1 is perfect, accuracy * 1 at best.

    Example:
        >>> oscr(torch.tensor([0.9, 0.8, 0.7]), torch.tensor([1, 0, 1]), torch.tensor([0.85, 0.6]))
        tensor(0.5000)
    """
    fpr, ccr = oscr_curve(known_scores.float(), known_correct, unknown_scores.float())
    return torch.trapezoid(ccr, fpr)


class OpenSetClassificationRate(Metric):
    """OSCR accumulated over batches: ``update(scores, correct, is_known)``; higher is better."""

    higher_is_better = True
    is_differentiable = False
    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in ("scores", "correct", "known"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, scores: torch.Tensor, correct: torch.Tensor, is_known: torch.Tensor) -> None:
        self.scores.append(scores.float())
        self.correct.append(correct.bool())
        self.known.append(is_known.bool())

    def compute(self) -> torch.Tensor:
        scores, correct, known = (dim_zero_cat(x) for x in (self.scores, self.correct, self.known))
        return oscr(scores[known], correct[known], scores[~known])


def nearest_centroid(
    queries: torch.Tensor,
    gallery: torch.Tensor,
    gallery_labels: torch.Tensor,
    rows: torch.Tensor | None = None,
    gallery_rows: torch.Tensor | None = None,
) -> torch.Tensor:
    """Label of the gallery class whose L2-normalised mean embedding is most cosine-similar,
    for each query (``queries[rows]`` where ``rows`` is given; the gallery ``gallery[gallery_rows]``
    where that is given, ``gallery_labels`` one per gallery row used).

    Centroids by ``index_add`` and the similarity in chunks: time and memory linear in images
    and classes (a per-class mask and a full queries x classes matrix cost minutes and
    gigabytes at thousands of generators; so did a copy of every query or gallery row). The
    chunks are small enough that the allocator reuses their memory episode after episode."""
    classes, members = gallery_labels.unique(sorted=True, return_inverse=True)
    gallery_rows = torch.arange(len(gallery)) if gallery_rows is None else gallery_rows
    if len(gallery_labels) != len(gallery_rows):
        raise ValueError(f"{len(gallery_labels)} gallery labels for {len(gallery_rows)} gallery rows")
    sums = torch.zeros(len(classes), gallery.shape[1], dtype=gallery.dtype)
    for i in range(0, len(gallery_rows), CHUNK):  # in order: the same sums as one index_add
        chunk = F.normalize(gallery[gallery_rows[i : i + CHUNK]], dim=1)
        sums.index_add_(0, members[i : i + CHUNK], chunk)
    centroids = F.normalize(sums / torch.bincount(members, minlength=len(classes)).unsqueeze(1), dim=1)
    rows = torch.arange(len(queries)) if rows is None else rows
    best = [  # each chunk gathered and normalised on its own: no copy of every query
        (F.normalize(queries[rows[i : i + CHUNK]], dim=1) @ centroids.T).argmax(dim=1)
        for i in range(0, len(rows), CHUNK)
    ]
    return classes[torch.cat(best)] if best else classes[:0]


#: rows normalised and scored at once (bounds each step's memory: 1,024 x 3,072 floats is
#: 12 MiB, under the 32 MiB that glibc's mmap threshold rises to, so its heap reuses the same
#: freed blocks chunk after chunk; with 4,096-row chunks resident memory grew by each episode)
CHUNK = 1024


class IdentificationAccuracy(Metric):
    """Top-1 accuracy of nearest-centroid identification, pooled over episodes; higher is better.

    Example:
        >>> metric = IdentificationAccuracy()
        >>> gallery = torch.tensor([[1.0, 0.0], [0.0, 1.0]]); labels = torch.tensor([0, 1])
        >>> queries = torch.tensor([[2.0, 0.1], [0.1, 3.0], [1.0, 0.9]])
        >>> metric.update(queries, torch.tensor([0, 1, 1]), gallery, labels)
        >>> metric.compute()
        tensor(0.6667)
    """

    higher_is_better = True
    is_differentiable = False
    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("correct", torch.zeros(()), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros(()), dist_reduce_fx="sum")

    def update(
        self,
        queries: torch.Tensor,
        query_labels: torch.Tensor,
        gallery: torch.Tensor,
        gallery_labels: torch.Tensor,
    ) -> None:
        predicted = nearest_centroid(queries, gallery, gallery_labels)
        self.correct += (predicted == query_labels).sum()
        self.total += len(query_labels)

    def compute(self) -> torch.Tensor:
        return self.correct / self.total


def _check_pairs(same: torch.Tensor) -> None:
    if same.all() or (~same.bool()).all():
        raise ValueError("verification needs both same-model and different-model pairs")


def eer_threshold(similarity: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """The similarity threshold where the false-accept and false-reject rates are closest (EER).

    Swept over the raw similarities themselves: torchmetrics' ROC applies a sigmoid to
    scores outside [0, 1] (cosine similarities are), so its thresholds are not on this scale.
    """
    _check_pairs(same)
    candidates = similarity.unique()
    positive, negative = similarity[same.bool()], similarity[~same.bool()]
    false_accept = (negative[None, :] >= candidates[:, None]).float().mean(1)
    false_reject = (positive[None, :] < candidates[:, None]).float().mean(1)
    return candidates[torch.argmin((false_accept - false_reject).abs())]


def accuracy_at(
    similarity: torch.Tensor, same: torch.Tensor, threshold: torch.Tensor | float
) -> torch.Tensor:
    """Share of pairs judged right when 'same model' means similarity >= threshold."""
    return ((similarity >= threshold) == same.bool()).float().mean()


def best_accuracy_threshold(similarity: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """The threshold that maximises pair accuracy on these pairs (use it on *validation* pairs)."""
    _check_pairs(same)
    candidates = similarity.unique()
    accuracies = ((similarity[None, :] >= candidates[:, None]) == same.bool()[None, :]).float().mean(1)
    return candidates[accuracies.argmax()]


def tar_at_far(similarity: torch.Tensor, same: torch.Tensor, far: float = 0.01) -> torch.Tensor:
    """True-accept rate at the largest threshold whose false-accept rate is <= ``far``."""
    _check_pairs(same)
    fpr, tpr, _ = binary_roc(similarity.float(), same.long())
    return tpr[fpr <= far].max()


class VerificationMetrics(Metric):
    """Pair verification: AUROC, accuracy at the EER threshold, TAR@FAR, and accuracy at a
    threshold fixed beforehand (``threshold``, chosen on validation pairs), all higher-is-better.

    Example:
        >>> metric = VerificationMetrics(threshold=0.5)
        >>> metric.update(torch.tensor([0.9, 0.8, 0.3, 0.6]), torch.tensor([1, 1, 0, 0]))
        >>> {k: round(float(v), 3) for k, v in metric.compute().items()}
        {'auroc': 1.0, 'accuracy_eer': 1.0, 'tar_at_far1': 1.0, 'accuracy_val_threshold': 0.75}
    """

    higher_is_better = True
    is_differentiable = False
    full_state_update = False

    def __init__(self, threshold: float | None = None, far: float = 0.01, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threshold, self.far = threshold, far
        self.add_state("similarity", default=[], dist_reduce_fx="cat")
        self.add_state("same", default=[], dist_reduce_fx="cat")

    def update(self, similarity: torch.Tensor, same: torch.Tensor) -> None:
        self.similarity.append(similarity.float())
        self.same.append(same.long())

    def compute(self) -> dict[str, torch.Tensor]:
        similarity, same = dim_zero_cat(self.similarity), dim_zero_cat(self.same)
        _check_pairs(same)
        out = {
            "auroc": binary_auroc(similarity, same),
            "accuracy_eer": accuracy_at(similarity, same, eer_threshold(similarity, same)),
            f"tar_at_far{round(self.far * 100):g}": tar_at_far(similarity, same, self.far),
        }
        if self.threshold is not None:
            out["accuracy_val_threshold"] = accuracy_at(similarity, same, self.threshold)
        return out
