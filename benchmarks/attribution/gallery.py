"""The reference gallery: per-generator prototypes, a calibrated "unknown", one file.

Matching is the zero-shot protocol's identification rule (``nearest_centroid``): each
reference embedding is L2-normalised, a generator's prototype is the mean of its references'
(normalised again for the cosine), and a query goes to the most cosine-similar prototype - so a
gallery built on the protocol's references reproduces its identification accuracy.

"Unknown" is calibrated from the gallery alone, by leaving one generator out at a time: each
generator's references are scored against the *other* generators' prototypes, as images of a
generator the gallery does not hold would be. The threshold is the lowest similarity at which
at most ``far`` of those impostor scores are accepted, each generator weighing the same (an
unknown generator arrives whole, and a generator with many references must not set the rate
alone). Its estimate is reported with the spread over generators, and with the rate at which
references are named right and accepted when each is left out of its own prototype.

The file is one safetensors file: tensors ``embeddings`` (N x D), ``labels`` (N) and
``prototypes`` (G x D), and a JSON header in its metadata (method, arguments, seed, weights
digest - the method's ``method_key()`` - reference data set, preprocessing, generators, counts,
the reference files with their content digests, and the calibration).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from benchmarks.attribution.embedding import (
    MethodSpec,
    Preprocessing,
    embed_files,
    fitted_method,
    reference_files,
)
from core.errors import ConfigError, DataError, ModelprintError
from lightning_modules.base import AttributionMethod

#: the version of the file layout; a reader refuses others in one line
GALLERY_FORMAT = 1
#: the safetensors metadata key holding the JSON header
HEADER_KEY = "modelprint_gallery"
#: the flagship, the default method of a gallery
DEFAULT_METHOD = "synthetic_fingerprint"
#: the decision for an image no gallery generator accepts
UNKNOWN = "unknown"


class GalleryMismatchError(ModelprintError):
    """A gallery embedded with other weights (or preprocessing) than the method has now: its
    prototypes would be compared with embeddings from another space."""


@dataclass(frozen=True)
class Calibration:
    """The "unknown" threshold and how it was estimated (see the module docstring)."""

    #: the false-accept rate asked for
    far: float
    #: accept the top generator when its cosine similarity is at least this
    threshold: float
    #: the false-accept rate the threshold gives on the leave-one-generator-out scores
    estimated_far: float
    #: the standard error of that estimate over generators (few generators: a rough figure)
    far_standard_error: float
    #: references named right *and* accepted, each left out of its own prototype
    genuine_accept: float
    generators: int
    images: int


@dataclass(frozen=True)
class Attribution:
    """One image's answer: the top generators with cosine similarity, the decision (a
    generator or ``unknown``), and the margin between the first and second similarity;
    ``error`` (and nothing else) where the file could not be read."""

    path: str
    candidates: tuple[tuple[str, float], ...] = ()
    decision: str = ""
    margin: float = 0.0
    error: str | None = None


def content_digest(path: str) -> str:
    """A reference file's identity for the incremental rebuild: its bytes, not its name."""
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=12).hexdigest()


def prototypes_of(embeddings: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Per class, the L2-normalised mean of its L2-normalised embeddings (``nearest_centroid``)."""
    normed = F.normalize(embeddings.float(), dim=1)
    sums = torch.zeros(classes, normed.shape[1]).index_add_(0, labels, normed)
    counts = torch.bincount(labels, minlength=classes).clamp(min=1)
    return F.normalize(sums / counts[:, None], dim=1)


def check_references(counts: dict[str, int], min_references: int) -> None:
    """Calibration needs two generators and ``min_references`` images of each: one line naming
    the first generator short of it."""
    if min_references < 2:
        raise ConfigError(f"min_references must be at least 2, got {min_references}")
    for generator, count in counts.items():
        if count < min_references:
            raise DataError(
                f"generator {generator!r} has {count} reference image{'s' * (count != 1)}; calibration "
                f"needs at least {min_references} per generator (add images or lower --min_references)"
            )
    if len(counts) < 2:
        raise DataError(
            f"a gallery needs at least two generators to calibrate 'unknown'; found {len(counts)}"
        )


def far_threshold(scores: torch.Tensor, weights: torch.Tensor, far: float) -> tuple[float, float]:
    """The lowest threshold ``t`` (a score, or just above the highest) at which the weighted share
    of ``scores >= t`` is at most ``far``; returns it and that share. One sort, no N x N table."""
    order = torch.argsort(scores, descending=True, stable=True)
    ordered, cumulative = scores[order], weights[order].double().cumsum(0)
    last_of_group = torch.ones_like(ordered, dtype=torch.bool)
    last_of_group[:-1] = ordered[1:] != ordered[:-1]
    values, accepted = ordered[last_of_group], cumulative[last_of_group]
    allowed = (accepted <= far + 1e-12).nonzero().flatten()
    if len(allowed) == 0:  # even the highest score alone is accepted too often: accept none
        return float(torch.nextafter(values[0], torch.tensor(float("inf")))), 0.0
    best = int(allowed[-1])
    return float(values[best]), float(accepted[best])


def calibrate(embeddings: torch.Tensor, labels: torch.Tensor, classes: int, far: float) -> Calibration:
    """Leave-one-generator-out calibration of the unknown threshold (see the module docstring)."""
    if not 0 < far < 1:
        raise ConfigError(f"far (the false-accept rate) must be in (0, 1), got {far}")
    normed = F.normalize(embeddings.float(), dim=1)
    counts = torch.bincount(labels, minlength=classes)
    similarity = normed @ prototypes_of(embeddings, labels, classes).T
    own = F.one_hot(labels, classes).bool()
    impostor = similarity.masked_fill(own, float("-inf")).max(dim=1).values
    weights = 1.0 / (classes * counts[labels].double())
    threshold, estimated = far_threshold(impostor, weights, far)
    per_generator = (
        torch.zeros(classes, dtype=torch.float64).index_add_(0, labels, (impostor >= threshold).double())
        / counts.double()
    )
    # each reference left out of its own prototype: named right and accepted?
    sums = torch.zeros(classes, normed.shape[1]).index_add_(0, labels, normed)
    left_out = F.normalize(sums[labels] - normed, dim=1)
    own_score = (normed * left_out).sum(dim=1)
    genuine = (own_score > impostor) & (own_score >= threshold)
    return Calibration(
        far=far,
        threshold=threshold,
        estimated_far=estimated,
        far_standard_error=float(per_generator.std() / classes**0.5) if classes > 1 else 0.0,
        genuine_accept=float(genuine.float().mean()),
        generators=classes,
        images=len(labels),
    )


def decide(
    similarity: torch.Tensor, generators: Sequence[str], threshold: float, top: int
) -> list[tuple[tuple[tuple[str, float], ...], str, float]]:
    """Per row of query-to-prototype similarities: the top candidates, the decision (the first
    candidate where its similarity reaches ``threshold``, else ``unknown``) and the margin (first
    minus second similarity)."""
    k = min(max(top, 2), len(generators))
    values, indices = similarity.topk(k, dim=1)
    out = []
    for row_values, row_indices in zip(values.tolist(), indices.tolist(), strict=True):
        candidates = tuple((generators[i], float(v)) for i, v in zip(row_indices, row_values, strict=True))
        decision = candidates[0][0] if candidates[0][1] >= threshold else UNKNOWN
        margin = candidates[0][1] - candidates[1][1] if len(candidates) > 1 else 0.0
        out.append((candidates[: max(top, 1)], decision, margin))
    return out


class Gallery:
    """Reference embeddings of a set of generators, their prototypes and a calibrated unknown.

    Build with :meth:`build`, extend with :meth:`add`, save and :meth:`load` one file, and ask
    :meth:`attribute` which generator made each image.
    """

    def __init__(
        self,
        spec: MethodSpec,
        weights_digest: str,
        preprocessing: Preprocessing,
        generators: Sequence[str],
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        files: Sequence[tuple[str, str]],
        far: float = 0.05,
        min_references: int = 5,
        method: AttributionMethod | None = None,
    ) -> None:
        counts = torch.bincount(labels, minlength=len(generators)).tolist()
        check_references(dict(zip(generators, counts, strict=True)), min_references)
        self.spec, self.weights_digest, self.preprocessing = spec, weights_digest, preprocessing
        self.generators = tuple(generators)
        self.embeddings, self.labels = embeddings.float().contiguous(), labels.long()
        self.files = list(files)  # (path, content digest) per reference, in row order
        self.min_references = min_references
        self.counts = dict(zip(self.generators, counts, strict=True))
        self.prototypes = prototypes_of(self.embeddings, self.labels, len(self.generators))
        self.calibration = calibrate(self.embeddings, self.labels, len(self.generators), far)
        self._method = method  # fitted once, reused by attribute and add

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        references: str | Path,
        method: str = DEFAULT_METHOD,
        method_args: dict[str, Any] | None = None,
        seed: int = 0,
        reference: str = "zoo",
        reference_args: dict[str, Any] | None = None,
        preprocessing: Preprocessing | None = None,
        far: float = 0.05,
        min_references: int = 5,
        batch_size: int = 64,
        cache: Gallery | None = None,
        progress: bool = False,
    ) -> Gallery:
        """Embed ``references`` (``DIR/<generator>/*``) with the method fitted as the benchmark
        fits it; files already in ``cache`` (a gallery of the same weights and preprocessing,
        matched by content) are not embedded again."""
        files = reference_files(references)
        check_references({g: len(f) for g, f in files.items()}, min_references)
        spec = MethodSpec(method, dict(method_args or {}), seed, reference, reference_args)
        fitted = fitted_method(spec, batch_size)
        preprocessing = preprocessing or Preprocessing()
        return cls._embed(
            spec, fitted, preprocessing, files, far, min_references, batch_size, cache, progress
        )

    def add(self, references: str | Path, batch_size: int = 64, progress: bool = False) -> Gallery:
        """This gallery with the images of ``references`` added (new generators, or more images of
        those it has); only files not already in it are embedded."""
        new = reference_files(references)
        merged: dict[str, list[str]] = {g: [] for g in self.generators}
        for (path, _), label in zip(self.files, self.labels.tolist(), strict=True):
            merged[self.generators[label]].append(path)
        for generator, paths in new.items():
            merged.setdefault(generator, []).extend(paths)
        check_references({g: len(p) for g, p in merged.items()}, self.min_references)
        return self._embed(
            self.spec,
            self.method(),
            self.preprocessing,
            dict(sorted(merged.items())),
            self.calibration.far,
            self.min_references,
            batch_size,
            self,
            progress,
        )

    @classmethod
    def _embed(
        cls,
        spec: MethodSpec,
        method: AttributionMethod,
        preprocessing: Preprocessing,
        files: dict[str, list[str]],
        far: float,
        min_references: int,
        batch_size: int,
        cache: Gallery | None,
        progress: bool,
    ) -> Gallery:
        generators = list(files)
        paths = [p for g in generators for p in files[g]]
        labels = torch.tensor([i for i, g in enumerate(generators) for _ in files[g]], dtype=torch.long)
        digests = [content_digest(p) for p in paths]
        known: dict[str, torch.Tensor] = {}
        if cache is not None and cache.compatible(method.method_key(), preprocessing):
            known = {d: cache.embeddings[i] for i, (_, d) in enumerate(cache.files)}
        embeddings: list[torch.Tensor | None] = [known.get(d) for d in digests]
        todo = [i for i, e in enumerate(embeddings) if e is None]
        problems: list[str] = []

        def keep(indices: torch.Tensor, values: torch.Tensor, bad: list[tuple[int, str]]) -> None:
            for row, value in zip(indices.tolist(), values, strict=True):
                embeddings[todo[row]] = value
            problems.extend(error for _, error in bad)

        embed_files(method, [paths[i] for i in todo], preprocessing, keep, batch_size, progress=progress)
        if problems:
            more = f" (and {len(problems) - 1} more bad reference files)" if len(problems) > 1 else ""
            raise DataError(f"{problems[0]}{more}")
        # unique files: the same image twice in a generator would weigh twice in its prototype
        seen: set[tuple[int, str]] = set()
        rows = []
        for i, (label, digest) in enumerate(zip(labels.tolist(), digests, strict=True)):
            if (label, digest) not in seen:
                seen.add((label, digest))
                rows.append(i)
        return cls(
            spec,
            method.method_key(),
            preprocessing,
            generators,
            torch.stack([embeddings[i] for i in rows]),  # type: ignore[misc]
            labels[rows],
            [(paths[i], digests[i]) for i in rows],
            far,
            min_references,
            method,
        )

    def compatible(self, weights_digest: str, preprocessing: Preprocessing) -> bool:
        return self.weights_digest == weights_digest and self.preprocessing == preprocessing

    def without(self, generator: str) -> Gallery:
        """The gallery less one generator, recalibrated (what a gallery that never held it gives)."""
        if generator not in self.generators:
            raise ConfigError(
                f"no generator {generator!r} in the gallery; it has {', '.join(self.generators)}"
            )
        drop = self.generators.index(generator)
        keep = self.labels != drop
        relabel = torch.arange(len(self.generators)) - (torch.arange(len(self.generators)) > drop).long()
        return Gallery(
            self.spec,
            self.weights_digest,
            self.preprocessing,
            [g for g in self.generators if g != generator],
            self.embeddings[keep],
            relabel[self.labels[keep]],
            [f for f, k in zip(self.files, keep.tolist(), strict=True) if k],
            self.calibration.far,
            self.min_references,
            self._method,
        )

    # -- the method -------------------------------------------------------------------------
    def method(self, batch_size: int = 64) -> AttributionMethod:
        """The gallery's method, fitted as when it was built; refused in one line where its
        weights are not those the gallery was embedded with."""
        if self._method is None:
            method = fitted_method(self.spec, batch_size)
            if method.method_key() != self.weights_digest:
                raise GalleryMismatchError(
                    f"gallery built with {self.spec.name} weights {self.weights_digest}, but "
                    f"{self.spec.name} now has {method.method_key()}: rebuild it "
                    "(modelprint gallery build) with the weights you attribute with"
                )
            self._method = method
        return self._method

    # -- attributing ------------------------------------------------------------------------
    def similarities(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of each embedding to each generator's prototype."""
        return F.normalize(embeddings.float(), dim=1) @ self.prototypes.T

    def attribute(
        self,
        paths: Sequence[str | Path],
        top: int = 3,
        threshold: float | None = None,
        batch_size: int = 64,
        num_workers: int | None = None,
        progress: bool = False,
        on_batch: Callable[[list[Attribution]], None] | None = None,
    ) -> list[Attribution]:
        """Which generator made each image: one :class:`Attribution` per path, in order (a bad
        file has its ``error``). ``on_batch`` receives each batch's answers as they are made."""
        if top < 1:
            raise ConfigError(f"top must be at least 1, got {top}")
        method = self.method(batch_size)
        names = [str(p) for p in paths]
        limit = self.calibration.threshold if threshold is None else threshold
        results: list[Attribution] = []

        def answer(indices: torch.Tensor, values: torch.Tensor, bad: list[tuple[int, str]]) -> None:
            numbered = [(i, Attribution(names[i], error=error)) for i, error in bad]
            if len(indices):
                decided = decide(self.similarities(values), self.generators, limit, top)
                numbered += [
                    (i, Attribution(names[i], candidates, decision, margin))
                    for i, (candidates, decision, margin) in zip(indices.tolist(), decided, strict=True)
                ]
            batch = [a for _, a in sorted(numbered, key=lambda item: item[0])]  # input order
            results.extend(batch)
            if on_batch is not None:
                on_batch(batch)

        embed_files(method, names, self.preprocessing, answer, batch_size, num_workers, progress)
        return results

    def first_references(self) -> dict[str, str]:
        """Each generator's first reference file that still exists (the report shows it)."""
        first: dict[str, str] = {}
        for (path, _), label in zip(self.files, self.labels.tolist(), strict=True):
            generator = self.generators[label]
            if generator not in first and Path(path).is_file():
                first[generator] = path
        return first

    # -- the file ---------------------------------------------------------------------------
    def header(self) -> dict[str, Any]:
        return {
            "format": GALLERY_FORMAT,
            "method": self.spec.as_dict(),
            "weights_digest": self.weights_digest,
            "preprocessing": asdict(self.preprocessing),
            "generators": list(self.generators),
            "counts": self.counts,
            "min_references": self.min_references,
            "calibration": asdict(self.calibration),
            "files": [list(f) for f in self.files],
        }

    def save(self, path: str | Path) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"embeddings": self.embeddings, "labels": self.labels, "prototypes": self.prototypes}
        save_file(tensors, str(path), metadata={HEADER_KEY: json.dumps(self.header())})
        return path

    @classmethod
    def load(cls, path: str | Path) -> Gallery:
        """A saved gallery; a file that is not one is a one-line error naming it."""
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such gallery file (build one with modelprint gallery build)")
        try:
            with safe_open(str(path), framework="pt") as opened:
                metadata = opened.metadata() or {}
                tensors = {key: opened.get_tensor(key) for key in opened.keys()}  # noqa: SIM118
            header = json.loads(metadata[HEADER_KEY])
        except (SafetensorError, KeyError, ValueError, OSError) as error:
            raise DataError(f"{path}: not a modelprint gallery ({' '.join(str(error).split())})") from None
        if header.get("format") != GALLERY_FORMAT:
            raise DataError(
                f"{path}: gallery format {header.get('format')!r}; this modelprint reads {GALLERY_FORMAT}"
            )
        spec = header["method"]
        return cls(
            MethodSpec(spec["name"], spec["args"], spec["seed"], spec["reference"], spec["reference_args"]),
            header["weights_digest"],
            Preprocessing(**header["preprocessing"]),
            header["generators"],
            tensors["embeddings"],
            tensors["labels"],
            [tuple(f) for f in header["files"]],
            header["calibration"]["far"],
            header["min_references"],
        )

    def with_far(self, far: float) -> Gallery:
        """The same references calibrated at another false-accept rate (nothing re-embedded)."""
        return Gallery(
            self.spec,
            self.weights_digest,
            self.preprocessing,
            self.generators,
            self.embeddings,
            self.labels,
            self.files,
            far,
            self.min_references,
            self._method,
        )

    def describe(self) -> str:
        """What ``gallery show`` prints: the method and weights, preprocessing, generators with
        their counts, and the calibration with its estimate."""
        c, p = self.calibration, self.preprocessing
        lines = [
            f"method: {self.spec.name} (weights {self.weights_digest}, seed {self.spec.seed}, "
            f"fitted on {self.spec.reference})",
            f"preprocessing: {p.resolution} px, {p.size_policy}, {p.crops} crop(s)",
            f"embedding: {self.embeddings.shape[1]} dimensions",
            f"generators: {len(self.generators)}, references: {len(self.labels)}",
            *(f"  {g}: {n}" for g, n in self.counts.items()),
            f"unknown threshold: {c.threshold:.4f} (cosine) at false-accept rate {c.far:g}, "
            f"estimated {c.estimated_far:.3f} +/- {c.far_standard_error:.3f} by leaving each of "
            f"{c.generators} generators out; references named and accepted: {c.genuine_accept:.3f}",
        ]
        return "\n".join(lines)


__all__ = ["UNKNOWN", "Attribution", "Calibration", "Gallery", "GalleryMismatchError"]
