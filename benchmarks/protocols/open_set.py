"""Open set: known test images plus an unseen subset -> closed accuracy, AUROC, OSCR.

One result per unseen subset (seed / data set / architecture / all), as in POSE's OSMA
benchmark (Yang et al., CVPR 2023). The open-set score is the method's: higher = known.

``semantic_shift`` (where the data set has it: the zoo with ``semantic_shift: <data set>``,
a content column of a Hugging Face data set) holds the known generators' recipes on content
the known ones never drew. Beside the AUROC (are they told from the known generators?), its
``counterpart_accuracy`` is ImageAttributionBench's semantic-shift figure: how often an image
is attributed to its counterpart - the known generator of the same recipe.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.classification import binary_auroc, binary_roc

from benchmarks.bootstrap import figure_with_interval
from benchmarks.protocols import register_protocol
from benchmarks.protocols.base import ProtocolResult, SubsetProtocol, clustering_figures, downsample_curve
from core.metrics.attribution import oscr, oscr_curve
from leaderboards.judging import HeadlineColumn, Judging
from lightning_modules.base import AttributionMethod, Features

UNSEEN_SUBSETS = ("unseen_seed", "unseen_dataset", "unseen_architecture", "unseen_all", "semantic_shift")


@register_protocol("open_set")
class OpenSetProtocol(SubsetProtocol):
    """Known vs unseen generators: closed accuracy on knowns, AUROC known-vs-unknown, OSCR."""

    requires = "open_set"
    judging = Judging(
        headline=(HeadlineColumn(3, "unseen_all", "auroc", "open-set AUROC"),),
        robustness_metrics=("auroc",),
        per_generator=(
            ("unseen_all", "open-set AUROC vs known test"),
            ("semantic_shift", "semantic shift: share attributed to the counterpart"),
        ),
    )
    valid_subsets = UNSEEN_SUBSETS

    def feature_splits(self) -> tuple[str, ...]:
        return ("known_test", *self.subsets)

    def evaluate(
        self, method: AttributionMethod, features: dict[str, Features], seed: int
    ) -> list[ProtocolResult]:
        known = features["known_test"]
        correct = method.logits(known.values).argmax(dim=1) == known.labels
        taken_for = {s: method.logits(features[s].values).argmax(dim=1) for s in self.subsets}
        known_scores = method.open_set_score(known.values)
        results = []
        for subset in self.subsets:
            unknown_scores = method.open_set_score(features[subset].values)

            def closed_accuracy(idx: list) -> float:
                return float(correct[idx[0]].float().mean())

            def auroc(idx: list, unknown_scores: torch.Tensor = unknown_scores) -> float:
                scores = torch.cat([known_scores[idx[0]], unknown_scores[idx[1]]])
                is_known = torch.cat([torch.ones(len(idx[0])), torch.zeros(len(idx[1]))]).long()
                return float(binary_auroc(scores, is_known))

            def open_set_rate(idx: list, unknown_scores: torch.Tensor = unknown_scores) -> float:
                return float(oscr(known_scores[idx[0]], correct[idx[0]], unknown_scores[idx[1]]))

            sizes = [len(known_scores), len(unknown_scores)]
            figures = [
                figure_with_interval(name, fn, sizes, self.bootstrap_samples, seed)
                for name, fn in (
                    ("closed_accuracy", closed_accuracy),
                    ("auroc", auroc),
                    ("oscr", open_set_rate),
                )
            ]
            is_known = torch.cat([torch.ones_like(known_scores), torch.zeros_like(unknown_scores)]).long()
            fpr, tpr, _ = binary_roc(torch.cat([known_scores, unknown_scores]), is_known)
            oscr_fpr, ccr = oscr_curve(known_scores, correct, unknown_scores)
            unseen = features[subset]
            if unseen.counterparts is not None:
                hit = counterpart_hits(unseen, known.generator_ids, taken_for[subset])
                figures.append(
                    figure_with_interval(
                        "counterpart_accuracy",
                        lambda idx, hit=hit: float(hit[idx[0]].float().mean()),
                        [len(hit)],
                        self.bootstrap_samples,
                        seed,
                    )
                )
            figures += clustering_figures(method.embed(unseen.values), unseen.labels, seed)
            details = {
                "roc": downsample_curve(fpr, tpr),
                "oscr_curve": downsample_curve(oscr_fpr, ccr),
                "unknown_generators": list(unseen.generator_ids),
                "per_generator": per_unseen_generator(
                    known, known_scores, unseen, unknown_scores, taken_for[subset]
                ),
            }
            results.append(ProtocolResult(subset, figures, details))
        return results


def counterpart_hits(unseen: Features, known_ids: tuple[str, ...], taken_for: torch.Tensor) -> torch.Tensor:
    """Per image of ``unseen``, whether it was attributed to its generator's counterpart."""
    assert unseen.counterparts is not None
    target = torch.tensor([known_ids.index(c) if c in known_ids else -1 for c in unseen.counterparts])
    return taken_for == target[unseen.labels]


def per_unseen_generator(
    known: Features,
    known_scores: torch.Tensor,
    unseen: Features,
    unseen_scores: torch.Tensor,
    taken_for: torch.Tensor,
) -> dict[str, dict[str, object]]:
    """Per unseen generator (POSE's analysis): the AUROC of known test images against its images
    alone, and the known generator its images are most often attributed to (``taken_for``:
    each image's), with the share; on the semantic-shift split, also its counterpart."""
    table = {}
    for label, name in enumerate(unseen.generator_ids):
        mine = unseen.labels == label
        if not mine.any():
            continue
        scores = torch.cat([known_scores, unseen_scores[mine]])
        is_known = torch.cat([torch.ones_like(known_scores), torch.zeros(int(mine.sum()))]).long()
        counts = torch.bincount(taken_for[mine], minlength=len(known.generator_ids))
        table[name] = {
            "images": int(mine.sum()),
            "auroc": float(binary_auroc(scores, is_known)),
            "mostly_taken_for": known.generator_ids[int(counts.argmax())],
            "taken_for_share": float(counts.max() / mine.sum()),
            "taken_for_counts": dict(zip(known.generator_ids, counts.tolist(), strict=True)),
        }
        if unseen.counterparts is not None:
            counterpart = unseen.counterparts[label]
            table[name]["counterpart"] = counterpart
            table[name]["counterpart_share"] = float(
                counts[known.generator_ids.index(counterpart)] / mine.sum()
                if counterpart in known.generator_ids
                else 0.0
            )
    return table
