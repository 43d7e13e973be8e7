"""What a protocol is: which feature splits it needs, and figures from a fitted method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from leaderboards.judging import Judging
from leaderboards.store import Figure
from lightning_modules.base import AttributionMethod, Features

#: the known generators' splits every method is fitted (``known_train``) and selected
#: (``known_val``) on: never perturbed, never reported by a protocol that tests generalisation
FIT_SPLITS = ("known_train", "known_val")
#: the fingerprint map's points at most (t-SNE is quadratic-ish in them)
MAP_MAX_POINTS = 2000
#: clustering figures up to this many generators (see :func:`clustering_figures`)
CLUSTERING_MAX_GENERATORS = 500


@dataclass
class ProtocolResult:
    """The figures of one evaluated split, with curves and tables for the board's plots."""

    split: str
    figures: list[Figure]
    details: dict[str, Any] = field(default_factory=dict)


class Protocol:
    """Base class; subclasses register with ``@register_protocol``."""

    name: ClassVar[str]
    #: the method capability this protocol needs
    requires: ClassVar[str]

    #: splits this protocol would read that the data set lacks (set by :meth:`restricted`)
    absent_splits: tuple[str, ...] = ()
    #: run when a plan names no protocols (False: an opt-in variant, named to be run)
    by_default: ClassVar[bool] = True
    #: how the board reads this protocol's runs: its headline figures, robustness tables and
    #: per-generator views (default: its tables only)
    judging: ClassVar[Judging] = Judging()

    def __init__(self, bootstrap_samples: int = 200) -> None:
        self.bootstrap_samples = bootstrap_samples

    def config(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "absent_splits"}

    def restricted(self, absent: set[str]) -> Protocol | None:
        """This protocol on a data set without the ``absent`` splits: itself where it needs none
        of them, None where it cannot run (subclasses that can drop a split override this)."""
        return None if absent & set(self.feature_splits()) else self

    def check_data(self, splits: dict[str, Any]) -> None:
        """Raise a one-line error (before any method is fitted) where the loaded ``splits`` cannot
        serve this protocol, e.g. too few images per generator; subclasses override this."""

    def feature_splits(self) -> tuple[str, ...]:
        """The splits whose features ``evaluate`` reads."""
        raise NotImplementedError

    def fit_splits(self) -> tuple[str, ...]:
        """The splits this protocol fits and selects on: they stay clean in the robustness track
        (only what it tests on is perturbed). Default: the known generators' train and val."""
        return FIT_SPLITS

    def fit_variants(self) -> tuple[tuple[str, Any], ...]:
        """(fit split, perturbation) pairs whose features ``evaluate`` also reads, under
        :func:`variant_key`: a fit split's delivered copy that a head is refitted with.
        Default: none (the fit splits stay as they are)."""
        return ()

    def clean_reference_splits(self) -> tuple[str, ...]:
        """Splits whose *clean* features ``evaluate`` also reads when the test splits are
        perturbed (under :func:`clean_key`): references that stay as their owner made them."""
        return ()

    def result_splits(self) -> tuple[str, ...]:
        """The splits ``evaluate`` reports on: one results-store run each."""
        raise NotImplementedError

    def evaluate(
        self, method: AttributionMethod, features: dict[str, Features], seed: int
    ) -> list[ProtocolResult]:
        raise NotImplementedError


def clean_key(split: str) -> str:
    """The key of a split's clean features beside its perturbed ones (``clean:unseen_all``)."""
    return f"clean:{split}"


def variant_key(split: str, perturbation: Any) -> str:
    """The key of a fit split's perturbed features that a protocol asked for by
    :meth:`Protocol.fit_variants` (``known_train@delivery:1``)."""
    return f"{split}@{perturbation.spec}"


class SubsetProtocol(Protocol):
    """A protocol reported once per subset of the data (open set's unseen groups, say): the
    subsets are checked against ``valid_subsets``, and on a data set that lacks some, it runs
    on the others and names the absent ones in the run's record."""

    valid_subsets: ClassVar[tuple[str, ...]] = ()

    def __init__(self, subsets: tuple[str, ...] | None = None, bootstrap_samples: int = 200) -> None:
        super().__init__(bootstrap_samples)
        subsets = self.valid_subsets if subsets is None else tuple(subsets)
        unknown = set(subsets) - set(self.valid_subsets)
        if unknown:
            raise ValueError(f"unknown {self.name} subset(s) {sorted(unknown)}; valid: {self.valid_subsets}")
        self.subsets = subsets

    def restricted(self, absent: set[str]) -> SubsetProtocol | None:
        missing = tuple(s for s in self.subsets if s in absent)
        if not missing:
            return self
        present = tuple(s for s in self.subsets if s not in absent)
        if not present:
            return None
        narrowed = type(self)(present, self.bootstrap_samples)
        narrowed.absent_splits = missing
        return narrowed

    def result_splits(self) -> tuple[str, ...]:
        return self.subsets


def downsample_curve(x: Any, y: Any, points: int = 101) -> dict[str, list[float]]:
    """At most ``points`` points of a curve, for storing with a run (the board plots them)."""
    import torch

    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    keep = torch.linspace(0, len(x) - 1, min(points, len(x))).round().long()
    return {"x": [round(float(v), 5) for v in x[keep]], "y": [round(float(v), 5) for v in y[keep]]}


def fingerprint_map(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    seed: int,
    per_generator: int = 40,
    max_points: int = MAP_MAX_POINTS,
) -> dict[str, list]:
    """A seeded 2-D t-SNE (van der Maaten & Hinton 2008; PCA start) of the L2-normalised
    embeddings of up to ``per_generator`` images of each generator, for the board's fingerprint
    map: the picture of how a method's features separate generators it never saw. At most
    ``max_points`` in all (fewer per generator where there are many generators, then a seeded
    sample of generators), so the map costs the same at 5,000 generators as at 50."""
    from sklearn.manifold import TSNE

    from core.seeding import generator_for

    gen = generator_for("fingerprint-map", seed)
    generators = labels.unique()
    if len(generators) > max_points:
        generators = generators[torch.randperm(len(generators), generator=gen)[:max_points]].sort().values
    per_generator = max(1, min(per_generator, max_points // len(generators)))
    keep = torch.cat(
        [
            members[torch.randperm(len(members), generator=gen)[:per_generator]]
            for members in (torch.nonzero(labels == label).flatten() for label in generators)
        ]
    )
    if len(keep) < 5:
        return {}
    points = torch.nn.functional.normalize(embeddings[keep].float(), dim=1).numpy()
    perplexity = min(30.0, (len(keep) - 1) / 3)
    xy = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)
    return {
        "x": [round(float(v), 3) for v in xy[:, 0]],
        "y": [round(float(v), 3) for v in xy[:, 1]],
        "labels": labels[keep].tolist(),
    }


def clustering_figures(
    embeddings: torch.Tensor, labels: torch.Tensor, seed: int, max_generators: int = CLUSTERING_MAX_GENERATORS
) -> list[Figure]:
    """NMI, cluster accuracy and purity of k-means (k = the generators present) on the
    embeddings; no interval (k-means is the expensive part to resample). None for one generator,
    and none beyond ``max_generators``: k-means with k in the thousands and the optimal
    cluster-to-generator matching (cubic in k) would cost more than the rest of the benchmark."""
    from core.metrics.clustering import ClusteringQuality, kmeans_clusters

    k = int(labels.unique().numel())
    if k < 2 or len(labels) <= k or k > max_generators:
        return []
    quality = ClusteringQuality()
    quality.update(kmeans_clusters(embeddings, k, seed), labels)
    return [Figure(f"clustering_{name}", float(value)) for name, value in quality.compute().items()]
