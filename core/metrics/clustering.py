"""How well unseen generators' features separate without labels (POSE's clustering figures):
k-means with k = the number of generators, then NMI, cluster accuracy and purity.

* NMI: torchmetrics' ``normalized_mutual_info_score`` (arithmetic normalisation, as
  scikit-learn's default).
* Cluster accuracy: the share of images whose cluster maps to their generator under the best
  one-to-one mapping of clusters to generators (Hungarian algorithm, ``scipy``).
* Purity: the share of images that belong to their cluster's most common generator (a
  many-to-one mapping, so it is never below cluster accuracy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torchmetrics import Metric
from torchmetrics.functional.clustering import normalized_mutual_info_score
from torchmetrics.utilities import dim_zero_cat


def contingency(clusters: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Counts of (cluster, label) pairs: rows are clusters, columns labels (ids relabelled 0..n-1)."""
    _, c = clusters.unique(return_inverse=True)
    _, y = labels.unique(return_inverse=True)
    table = torch.zeros(int(c.max()) + 1, int(y.max()) + 1, dtype=torch.long)
    table.index_put_((c, y), torch.ones_like(c), accumulate=True)
    return table


def cluster_accuracy(clusters: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Accuracy under the best one-to-one cluster -> label mapping.

    Example:
        >>> cluster_accuracy(torch.tensor([1, 1, 0, 0, 0]), torch.tensor([0, 0, 1, 1, 0]))
        tensor(0.8000)
    """
    table = contingency(clusters, labels).numpy()
    rows, cols = linear_sum_assignment(table, maximize=True)
    return torch.tensor(float(table[rows, cols].sum()) / len(labels))


def purity(clusters: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Share of images in their cluster's majority label.

    Example:
        >>> purity(torch.tensor([0, 0, 0, 1]), torch.tensor([0, 0, 1, 1]))
        tensor(0.7500)
    """
    table = contingency(clusters, labels)
    return table.max(dim=1).values.sum() / len(labels)


def kmeans_clusters(embeddings: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """k-means (scikit-learn, k-means++ initialisation, 10 restarts) on L2-normalised embeddings:
    the cosine geometry the zero-shot protocol compares them by."""
    from sklearn.cluster import KMeans

    points = torch.nn.functional.normalize(embeddings.double(), dim=1).numpy()
    model = KMeans(n_clusters=k, n_init=10, random_state=seed % 2**32)
    return torch.from_numpy(model.fit_predict(points).astype(np.int64))


class ClusteringQuality(Metric):
    """NMI, cluster accuracy and purity of cluster assignments against generator labels; all
    higher-is-better. ``update(clusters, labels)``; ``compute()`` returns the three.

    Example:
        >>> metric = ClusteringQuality()
        >>> metric.update(torch.tensor([0, 0, 1, 1]), torch.tensor([1, 1, 0, 0]))
        >>> {k: round(float(v), 3) for k, v in metric.compute().items()}
        {'nmi': 1.0, 'cluster_accuracy': 1.0, 'purity': 1.0}
    """

    higher_is_better = True
    is_differentiable = False
    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("clusters", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, clusters: torch.Tensor, labels: torch.Tensor) -> None:
        self.clusters.append(clusters.long())
        self.labels.append(labels.long())

    def compute(self) -> dict[str, torch.Tensor]:
        clusters, labels = dim_zero_cat(self.clusters), dim_zero_cat(self.labels)
        return {
            "nmi": normalized_mutual_info_score(clusters, labels),
            "cluster_accuracy": cluster_accuracy(clusters, labels),
            "purity": purity(clusters, labels),
        }
