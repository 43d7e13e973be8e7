"""Zero shot: unseen generators only, matched by embeddings (Yang et al., arXiv 2307.15977).

Each episode draws, per unseen generator, ``gallery_per_model`` (K) reference images and up
to ``queries_per_model`` queries (N-way: ``n_way`` generators, default all of them).

* identification: each query goes to the generator whose mean L2-normalised gallery
  embedding is most cosine-similar -> top-1 accuracy;
* verification: ``pairs_per_episode`` balanced pairs of query images, same generator or
  not, scored by cosine similarity -> AUROC, accuracy at the EER threshold, TAR at FAR 1%,
  accuracy at the threshold chosen on *known* generators' validation pairs (the honest
  figure), and accuracy at the best threshold on the test pairs themselves (the paper's
  figure, reported for comparability only).

Figures are means over episodes with bootstrap CIs over episodes.

Under a perturbation (the robustness track) gallery and queries are both perturbed by
default; ``gallery: clean`` (the registered variant ``zero_shot_clean_gallery``) keeps the
references as their owner made them and perturbs the queries only - references from the
model's owner, queries met on the web.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F

from benchmarks.bootstrap import mean_over_episodes
from benchmarks.protocols import register_protocol
from benchmarks.protocols.base import Protocol, ProtocolResult, clean_key, clustering_figures, fingerprint_map
from core.errors import DataError
from core.metrics.attribution import (
    VerificationMetrics,
    accuracy_at,
    best_accuracy_threshold,
    macro_f1,
    nearest_centroid,
)
from core.seeding import generator_for
from leaderboards.judging import HeadlineColumn, Judging
from lightning_modules.base import AttributionMethod, Features


def sample_pairs(
    labels: torch.Tensor, count: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``count`` pairs of distinct items, half from the same label, half from different labels."""
    classes = labels.unique()
    if len(classes) < 2:
        raise ValueError("verification pairs need at least two generators")
    members = {int(c): (labels == c).nonzero().flatten() for c in classes}
    same_classes = [c for c, m in members.items() if len(m) >= 2]
    first, second, same = [], [], []
    for i in range(count):
        if i % 2 == 0 and same_classes:
            c = same_classes[int(torch.randint(len(same_classes), (1,), generator=gen))]
            a, b = members[c][torch.randperm(len(members[c]), generator=gen)[:2]].tolist()
            same.append(1)
        else:
            ca, cb = classes[torch.randperm(len(classes), generator=gen)[:2]].tolist()
            a = int(members[ca][torch.randint(len(members[ca]), (1,), generator=gen)])
            b = int(members[cb][torch.randint(len(members[cb]), (1,), generator=gen)])
            same.append(0)
        first.append(a)
        second.append(b)
    return torch.tensor(first), torch.tensor(second), torch.tensor(same)


def cosine(embeddings: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each pair of rows; only the paired rows are normalised (a copy of
    every embedding cost gigabytes at thousands of generators)."""
    return (F.normalize(embeddings[first], dim=1) * F.normalize(embeddings[second], dim=1)).sum(dim=1)


@register_protocol("zero_shot")
class ZeroShotProtocol(Protocol):
    """Unseen generators only: N-way identification from K references, and pair verification."""

    requires = "zero_shot"
    judging = Judging(
        headline=(
            HeadlineColumn(0, "unseen_all", "identification_accuracy", "zero-shot identification"),
            HeadlineColumn(1, "unseen_all", "verification_auroc", "zero-shot verification AUROC"),
        ),
        robustness_metrics=("identification_accuracy", "verification_auroc"),
        per_generator=(("unseen_all", "zero-shot identification"),),
        reads_embedding=True,
    )
    #: the references under a perturbation: ``perturbed`` with the queries, or ``clean``
    #: (:class:`ZeroShotCleanGalleryProtocol`: a protocol of its own, so its figures never
    #: stand in for zero_shot's on the board)
    gallery: ClassVar[str] = "perturbed"

    def __init__(
        self,
        split: str = "unseen_all",
        gallery_per_model: int = 10,
        queries_per_model: int | None = None,
        n_way: int | None = None,
        episodes: int = 20,
        pairs_per_episode: int = 1000,
        validation_pairs: int = 2000,
        bootstrap_samples: int = 200,
        fit_folds: int | None = None,
    ) -> None:
        super().__init__(bootstrap_samples)
        if gallery_per_model < 1 or episodes < 1 or pairs_per_episode < 2:
            raise ValueError("gallery_per_model and episodes must be >= 1 and pairs_per_episode >= 2")
        if n_way is not None and n_way < 2:
            raise ValueError(f"n_way must be at least 2 (an episode tells generators apart), got {n_way}")
        if queries_per_model is not None and queries_per_model < 1:
            raise ValueError(f"queries_per_model must be at least 1, got {queries_per_model}")
        if validation_pairs < 2:
            raise ValueError(f"validation_pairs must be at least 2, got {validation_pairs}")
        if fit_folds is not None and fit_folds < 2:
            raise ValueError(f"fit_folds must be at least 2 (or unset), got {fit_folds}")
        self.split, self.gallery_per_model, self.queries_per_model = (
            split,
            gallery_per_model,
            queries_per_model,
        )
        self.n_way, self.episodes, self.pairs_per_episode = n_way, episodes, pairs_per_episode
        self.validation_pairs = validation_pairs
        #: zero shot among KNOWN generators (a selection split) with a post-processing the method
        #: fits on known-train features (standardising, whitening): the split's generators are
        #: dealt into ``fit_folds`` folds, each episode is among one fold's generators, embedded
        #: by the method's head refitted without them - so the figure never credits a fit on
        #: the very generators it tells apart. Unset: one head, fitted on every known generator.
        self.fit_folds = fit_folds

    def check_data(self, splits: dict[str, Any]) -> None:
        test = splits[self.split]
        counts = torch.bincount(test.labels, minlength=len(test.generator_ids))
        short = [
            f"{test.generator_ids[g]} ({int(n)})"
            for g, n in enumerate(counts)
            if 0 < n <= self.gallery_per_model
        ]
        if short:
            raise DataError(
                f"zero shot needs more than gallery_per_model={self.gallery_per_model} images per "
                f"generator of {self.split}; too few: {', '.join(short)} "
                f"(lower it with --protocol_args='{{zero_shot: {{gallery_per_model: K}}}}')"
            )
        if len(counts.nonzero()) < 2:
            raise DataError(f"zero shot needs at least two generators in {self.split}")

    def config(self) -> dict[str, Any]:
        config = super().config()
        if self.gallery == "clean":  # zero_shot's own config keeps the keys its cells always had
            config["gallery"] = self.gallery
        if config.get("fit_folds") is None:  # so do cells without folds
            config.pop("fit_folds", None)
        return config

    def feature_splits(self) -> tuple[str, ...]:
        return ("known_val", self.split)

    def clean_reference_splits(self) -> tuple[str, ...]:
        return (self.split,) if self.gallery == "clean" else ()

    def result_splits(self) -> tuple[str, ...]:
        return (self.split,)

    def _validation_threshold(self, method: AttributionMethod, val: Features, seed: int) -> float:
        embeddings = method.embed(val.values)
        first, second, same = sample_pairs(
            val.labels, self.validation_pairs, generator_for("val-pairs", seed)
        )
        return float(best_accuracy_threshold(cosine(embeddings, first, second), same))

    def _space(
        self, method: AttributionMethod, features: dict[str, Features], generators: torch.Tensor
    ) -> Space:
        """The split's embeddings under the method's current head, and its references' (the
        same images, clean where the gallery stays clean)."""
        embeddings = method.embed(features[self.split].values)
        references = (
            method.embed(features[clean_key(self.split)].values) if self.gallery == "clean" else embeddings
        )
        return Space(generators, embeddings, references)

    def _fold_spaces(
        self, method: AttributionMethod, features: dict[str, Features], seed: int
    ) -> list[Space]:
        """One space per fold of the split's generators, the head refitted on the known
        generators outside the fold (matched by name); the head on all of them is restored."""
        test, train, val = features[self.split], features["known_train"], features["known_val"]
        generators = test.labels.unique()
        if len(generators) < 2 * self.fit_folds:
            raise ValueError(
                f"fit_folds={self.fit_folds} needs at least two generators per fold; "
                f"{self.split} has {len(generators)}"
            )
        spaces = []
        for fold in range(self.fit_folds):
            held_out = generators[fold :: self.fit_folds]
            names = [test.generator_ids[int(g)] for g in held_out]
            method.fit_head(train.without(*names), val.without(*names), seed)
            spaces.append(self._space(method, features, held_out))
        method.fit_head(train, val, seed)
        return spaces

    def evaluate(
        self, method: AttributionMethod, features: dict[str, Features], seed: int
    ) -> list[ProtocolResult]:
        test = features[self.split]
        threshold = self._validation_threshold(method, features["known_val"], seed)
        whole = self._space(method, features, test.labels.unique())
        spaces = self._fold_spaces(method, features, seed) if self.fit_folds else [whole]
        fewest = min(len(space.generators) for space in spaces)
        if self.n_way is not None and not 2 <= self.n_way <= fewest:
            raise ValueError(f"n_way={self.n_way} but the split (or a fold) has {fewest} generators")
        per_episode: dict[str, list[float]] = {}
        pooled_predicted: list[torch.Tensor] = []
        pooled_truth: list[torch.Tensor] = []
        for episode in range(self.episodes):
            gen = generator_for("zero-shot", seed, episode)
            generators, embeddings, reference_embeddings = spaces[episode % len(spaces)]
            chosen = generators[
                torch.randperm(len(generators), generator=gen)[: self.n_way or len(generators)]
            ]
            gallery, queries = [], []
            for g in chosen.tolist():
                members = (test.labels == g).nonzero().flatten()
                members = members[torch.randperm(len(members), generator=gen)]
                if len(members) <= self.gallery_per_model:
                    raise ValueError(
                        f"generator {test.generator_ids[g]} has {len(members)} images; "
                        f"needs more than gallery_per_model={self.gallery_per_model}"
                    )
                gallery.append(members[: self.gallery_per_model])
                end = (
                    None
                    if self.queries_per_model is None
                    else self.gallery_per_model + self.queries_per_model
                )
                queries.append(members[self.gallery_per_model : end])
            g_idx, q_idx = torch.cat(gallery), torch.cat(queries)
            predicted = nearest_centroid(
                embeddings, reference_embeddings, test.labels[g_idx], rows=q_idx, gallery_rows=g_idx
            )
            truth = test.labels[q_idx]
            pooled_predicted.append(predicted)
            pooled_truth.append(truth)
            values = {
                "identification_accuracy": float((predicted == truth).float().mean()),
                "identification_macro_f1": macro_f1_over(predicted, truth, chosen),
            }
            first, second, same = sample_pairs(test.labels[q_idx], self.pairs_per_episode, gen)
            similarity = cosine(embeddings, q_idx[first], q_idx[second])
            verification = VerificationMetrics(threshold=threshold)
            verification.update(similarity, same)
            values |= {f"verification_{k}": float(v) for k, v in verification.compute().items()}
            best = best_accuracy_threshold(similarity, same)
            values["verification_accuracy_test_threshold"] = float(accuracy_at(similarity, same, best))
            for name, value in values.items():
                per_episode.setdefault(name, []).append(value)
        figures = [
            mean_over_episodes(name, values, self.bootstrap_samples, seed)
            for name, values in per_episode.items()
        ]
        generators, embeddings, _ = whole  # clustering and the map: one head on every known generator
        figures += clustering_figures(embeddings, test.labels, seed)
        details = {
            "episodes": self.episodes,
            "n_way": int(self.n_way or fewest),
            **({"fit_folds": [space.generators.tolist() for space in spaces]} if self.fit_folds else {}),
            "validation_threshold": threshold,
            "generators": list(test.generator_ids),
            "per_generator": per_generator_identification(
                torch.cat(pooled_predicted), torch.cat(pooled_truth), test.generator_ids
            ),
            "map": fingerprint_map(embeddings, test.labels, seed),
        }
        return [ProtocolResult(self.split, figures, details)]


class Space(NamedTuple):
    """Embeddings that are compared with each other: of one head, for these generators."""

    generators: torch.Tensor
    embeddings: torch.Tensor
    references: torch.Tensor


@register_protocol("zero_shot_clean_gallery")
class ZeroShotCleanGalleryProtocol(ZeroShotProtocol):
    """Zero shot with the references clean and the queries perturbed (see the module
    docstring); on clean images it equals ``zero_shot``, so it runs only when named."""

    by_default = False
    judging = Judging(
        robustness_metrics=("identification_accuracy", "verification_auroc"), reads_embedding=True
    )
    gallery = "clean"


def macro_f1_over(predicted: torch.Tensor, truth: torch.Tensor, chosen: torch.Tensor) -> float:
    """Macro-F1 over the episode's generators (the official code's identification figure beside
    accuracy): labels renumbered to the episode's N so absent generators do not count."""
    top = int(max(chosen.max(), predicted.max(), truth.max()))
    lookup = torch.full((top + 1,), -1, dtype=torch.long)
    lookup[chosen.long()] = torch.arange(len(chosen))
    return macro_f1(lookup[predicted.long()], lookup[truth.long()], len(chosen))


def per_generator_identification(
    predicted: torch.Tensor, truth: torch.Tensor, names: tuple[str, ...]
) -> dict[str, dict[str, float]]:
    """Pooled over episodes, per generator: identification accuracy (recall), one-vs-rest F1,
    and the generator its queries were most often taken for when wrong."""
    table = {}
    for label, name in enumerate(names):
        mine, called = truth == label, predicted == label
        if not mine.any():
            continue
        hits = float((mine & called).sum())
        precision = hits / max(float(called.sum()), 1.0)
        recall = hits / float(mine.sum())
        wrong = predicted[mine & ~called]
        table[name] = {
            "queries": int(mine.sum()),
            "identification_accuracy": recall,
            "f1": 0.0 if hits == 0 else 2 * precision * recall / (precision + recall),
            "mostly_confused_with": names[int(wrong.mode().values)] if len(wrong) else None,
        }
    return table
