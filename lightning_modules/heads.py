"""Heads fitted on frozen features: a multinomial logistic-regression probe, a cosine k-NN,
and the within-class whitening that zero shot may compare embeddings in.

The regularisation strength is chosen by accuracy on the known generators' validation
features - never on test images, never on unseen generators.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


class LinearProbe:
    """Standardise, then scikit-learn logistic regression; C picked on validation accuracy.

    The grid is fitted as a regularisation path: in ascending C, each fit starting from the
    previous one's solution (lbfgs ``warm_start``), as path-wise solvers do (Friedman et al.,
    J. Stat. Softw. 2010): on wide features (CLIP's every block) cold fits hit ``max_iter``
    where the path converges, in about half the time, at the same validation accuracy
    (measured in docs/protocols.md). The chosen fit's iterations and whether it converged
    go into the run's record.
    """

    def __init__(self, c_grid: Sequence[float] = (0.01, 0.1, 1.0, 10.0), seed: int = 0, max_iter: int = 2000):
        self.c_grid, self.seed, self.max_iter = tuple(c_grid), seed, max_iter
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None
        self.model: Any = None

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        if self.mean is None or self.std is None:
            raise RuntimeError("LinearProbe.fit must run first")
        return (features.float() - self.mean) / self.std

    def fit(
        self, train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor
    ) -> dict[str, Any]:
        from sklearn.linear_model import LogisticRegression

        self.mean = train_x.float().mean(0)
        self.std = train_x.float().std(0).clamp(min=1e-6)
        xt, xv = self.standardise(train_x).numpy(), self.standardise(val_x).numpy()
        path = LogisticRegression(max_iter=self.max_iter, random_state=self.seed, warm_start=True)
        models, scores = {}, {}
        for c in sorted(self.c_grid):  # ascending: each fit starts from the last one's solution
            models[c] = copy.deepcopy(path.set_params(C=c).fit(xt, train_y.numpy()))
            scores[c] = float(np.mean(models[c].predict(xv) == val_y.numpy()))
        best = max(scores, key=lambda c: (scores[c], -c))  # ties go to the stronger regularisation
        self.model = models[best]
        iterations = int(np.max(self.model.n_iter_))
        return {
            "probe_C": best,
            "probe_val_accuracy": scores[best],
            "probe_iterations": iterations,
            "probe_converged": iterations < self.max_iter,
        }

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        if self.model is None:
            raise RuntimeError("LinearProbe.fit must run first")
        scores = torch.from_numpy(self.model.decision_function(self.standardise(features).numpy())).float()
        if scores.ndim == 1:  # two classes: scikit-learn returns the logit of class 1 alone
            scores = torch.stack([torch.zeros_like(scores), scores], dim=1)
        return scores


class WithinClassWhitening:
    """Standardise, then whiten by the within-generator covariance of known-train features.

    Within-class covariance normalisation (WCCN; Hatch, Kajarekar & Stolcke, ICSLP 2006), the
    standard last step before cosine scoring in speaker verification: the directions along which
    one generator's own images vary are scaled down, so cosine similarity weighs the directions
    that tell generators apart. It is fitted with generator labels of the *known* generators only;
    zero shot then compares unseen generators in that space. ``shrinkage`` adds that fraction of
    the covariance's mean eigenvalue to its diagonal (a covariance of a few thousand images in
    128 dimensions needs it to invert stably).
    """

    def __init__(self, shrinkage: float = 1e-3) -> None:
        if not shrinkage > 0:
            raise ValueError(f"whitening shrinkage must be > 0, got {shrinkage}")
        self.shrinkage = float(shrinkage)
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None
        self.whitener: torch.Tensor | None = None

    def fit(self, features: torch.Tensor, labels: torch.Tensor) -> WithinClassWhitening:
        x = features.double()
        self.mean, self.std = x.mean(0), x.std(0).clamp(min=1e-6)
        z = (x - self.mean) / self.std
        classes, index = labels.unique(return_inverse=True)
        if len(classes) < 2:
            raise ValueError("within-class whitening needs at least two generators")
        centres = torch.zeros(len(classes), z.shape[1], dtype=z.dtype).index_add_(0, index, z)
        centres /= torch.bincount(index, minlength=len(classes)).unsqueeze(1).to(z.dtype)
        within = z - centres[index]
        covariance = within.T @ within / len(within)
        ridge = self.shrinkage * covariance.trace() / len(covariance)
        cholesky = torch.linalg.cholesky(covariance + ridge * torch.eye(len(covariance), dtype=z.dtype))
        self.whitener = torch.linalg.inv(cholesky).T  # x @ whitener has identity within-class covariance
        return self

    def transform(self, features: torch.Tensor) -> torch.Tensor:
        if self.whitener is None or self.mean is None or self.std is None:
            raise RuntimeError("WithinClassWhitening.fit must run first")
        return (((features.double() - self.mean) / self.std) @ self.whitener).float()


class CosineKNN:
    """k-nearest neighbours by cosine similarity to the known generators' training features.

    ``logits`` are, per generator, the sum of the similarities among the k nearest training
    features that belong to it (a similarity-weighted vote); ``best_similarity`` - the
    similarity of the single nearest training feature - is an open-set score (an image far
    from every known image is likely unknown). k is chosen on validation accuracy.
    """

    def __init__(self, k_grid: Sequence[int] = (1, 5, 10, 20)) -> None:
        self.k_grid = tuple(k_grid)
        self.bank: torch.Tensor | None = None
        self.bank_labels: torch.Tensor | None = None
        self.classes = 0
        self.k = self.k_grid[0]

    def _similarities(self, features: torch.Tensor) -> torch.Tensor:
        if self.bank is None:
            raise RuntimeError("CosineKNN.fit must run first")
        return torch.nn.functional.normalize(features.float(), dim=1) @ self.bank.T

    def _votes(self, similarities: torch.Tensor, k: int) -> torch.Tensor:
        assert self.bank_labels is not None
        top = similarities.topk(min(k, similarities.shape[1]), dim=1)
        votes = torch.zeros(len(similarities), self.classes)
        return votes.scatter_add_(1, self.bank_labels[top.indices], top.values)

    def fit(
        self, train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor
    ) -> dict[str, Any]:
        self.bank = torch.nn.functional.normalize(train_x.float(), dim=1)
        self.bank_labels, self.classes = train_y.long(), int(train_y.max()) + 1
        similarities = self._similarities(val_x)
        scores = {
            k: float((self._votes(similarities, k).argmax(1) == val_y).float().mean()) for k in self.k_grid
        }
        self.k = max(scores, key=lambda k: (scores[k], -k))  # ties go to the smaller k
        return {"knn_k": self.k, "knn_val_accuracy": scores[self.k]}

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self._votes(self._similarities(features), self.k)

    def best_similarity(self, features: torch.Tensor) -> torch.Tensor:
        return self._similarities(features).max(dim=1).values
