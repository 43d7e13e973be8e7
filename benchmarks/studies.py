"""Studies of the flagship: train a set of extractor variants, evaluate each zero shot on the
zoo's unseen generators with the leaderboard's own ``zero_shot`` protocol, record each once.

Two studies share this runner (Yang et al., arXiv 2307.15977 make both claims):

* the **ablation** (``configs/extractor/ablation.yaml``, protocol ``flagship_ablation``): a
  full factorial over the choices that separate the paper's recipe from a naive one - input
  (spatial residual or its FFT magnitude), denoiser (median filter or learned DnCNN),
  sampling (fixed images cycled, or a fresh model and photo every group) and architecture
  space (the paper's, or the one chosen for fidelity to the *known* zoo generators) - all at
  one training budget, so the table says which choice matters;
* the **scaling** study (``configs/extractor/scaling.yaml``, protocol ``zero_shot_scaling``):
  the number of synthetic models at a fixed number of images *per model* (the budget grows
  with the models), and architecture diversity (one up-sampling type only).

Each variant's extractor is cached per training configuration (resumable); a variant already
in the store (same name, configuration and zoo data hash) is skipped.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape

from core.errors import ConfigError
from core.yaml_config import read_dataclass_yaml
from leaderboards.judging import Judging
from lightning_modules.synthetic_fingerprint.training import ExtractorTrainingConfig, train_extractor

SCALING_PROTOCOL = "zero_shot_scaling"
RAW, STANDARDISED, WHITENED = "raw", "standardised", "whitened"
#: the folds of the selection split's generators for a post-processing fitted on known generators
SELECTION_FIT_FOLDS = 2


@dataclass(frozen=True)
class Embedding:
    """How a study's zero shot compares fingerprints, and where it is recorded: under the
    study's protocol name plus ``suffix``; ``folded``: on the selection split, in folds of its
    generators with the head refitted without each fold (``ZeroShotProtocol.fit_folds``) -
    N/folds-way episodes, so folded figures compare only with folded ones; ``reported``: also
    on the reported split (unfolded there: the head never saw an unseen generator)."""

    name: str
    suffix: str
    folded: bool = False
    reported: bool = True


#: every variant: the raw fingerprints (the paper's cosine, protocol as named) and standardised
#: with known-train statistics
EMBEDDINGS = (Embedding(RAW, ""), Embedding(STANDARDISED, "_standardised"))
#: the robust ablation's candidates and probes besides: whitened by the known generators'
#: within-generator covariance, and - its like-for-like comparison on the selection split -
#: standardised in the same folds
CANDIDATE_EMBEDDINGS = (
    Embedding(WHITENED, "_whitened", folded=True),
    Embedding(STANDARDISED, "_standardised_folds", folded=True, reported=False),
)
ABLATION_PROTOCOL = "flagship_ablation"
ROBUST_ABLATION_PROTOCOL = "flagship_ablation_robust"
#: how the board reads the studies' own protocols: the robust ablation's rows get robustness
#: tables on its selection (known_val) and reported (unseen_all) splits
STUDY_JUDGINGS = {
    ROBUST_ABLATION_PROTOCOL: Judging(robustness_metrics=("identification_accuracy", "verification_auroc")),
}


@dataclass(frozen=True)
class StudyVariant:
    """One extractor to train and evaluate: its board name, training config and what it varies."""

    name: str
    training: ExtractorTrainingConfig
    details: dict[str, Any]


def _overridden(cfg: ExtractorTrainingConfig, *overrides: dict[str, Any]) -> ExtractorTrainingConfig:
    """``cfg`` with each override's ``data`` / ``net`` entries merged on in turn."""
    merged: dict[str, Any] = {"data": cfg.data, "net": cfg.net}
    for override in overrides:
        merged = _merge(merged, override)
    return replace(cfg, **merged)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` on top, dictionaries merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value)
            if isinstance(value, dict) and isinstance(merged.get(key), dict)
            else value
        )
    return merged


@dataclass
class ExtractorStudy:
    """What every study shares: the training config its variants start from, the zero-shot
    protocol's arguments, and the seed; :meth:`study_variants` says what is trained."""

    training_config: str = "cpu.yaml"
    zero_shot: dict[str, Any] = field(default_factory=dict)
    bootstrap_samples: int = 200
    seed: int = 0
    #: a split of generators the extractor never trained on that choices are made on (the zoo's
    #: known generators: the flagship never sees a zoo image), recorded beside the reported
    #: ``zero_shot.split``; None: only the reported split (how the first ablation ran)
    selection_split: str | None = None
    #: delivered-image levels (``jpeg:75`` ..., or a peer's set such as ``genimage``, as
    #: ``modelprint run --perturbations`` reads them): both splits are evaluated on perturbed
    #: copies too, recorded as ``<protocol>@<level>``
    perturbations: list[str] = field(default_factory=list)
    #: the protocol name its runs are recorded under
    protocol: ClassVar[str] = ""

    @classmethod
    def from_yaml(cls, path: Path) -> ExtractorStudy:
        study = cls(**read_dataclass_yaml(cls, path))
        study.training_config = str((path.parent / study.training_config).resolve())
        return study

    def study_variants(self) -> list[StudyVariant]:
        raise NotImplementedError

    def run(
        self, store: Any, cache: Path, console: Any, variants: list[StudyVariant] | None = None
    ) -> list[str]:
        """Train and evaluate ``variants`` (default: all), recording each once."""
        return run_study(
            self.study_variants() if variants is None else variants,
            self.protocol,
            self.zero_shot,
            self.bootstrap_samples,
            self.seed,
            store,
            cache,
            console,
            selection_split=self.selection_split,
            perturbations=self.perturbations,
        )


@dataclass
class ScalingStudy(ExtractorStudy):
    """Variants (``num_models``, ``space``) trained from ``training_config``.

    ``images_per_model`` set: every variant sees that many images per model (its budget is
    ``num_models * images_per_model``, capped at ``max_image_budget``); unset: all variants
    share ``image_budget`` (fewer images per model as models grow - under-training).
    """

    protocol: ClassVar[str] = SCALING_PROTOCOL
    image_budget: int = 20_000
    images_per_model: int | None = None
    max_image_budget: int = 1_000_000
    images_per_group: int = 2
    models_per_batch: int = 32
    #: synthetic models held out beside each variant's ``num_models`` for zero-shot
    #: validation (0: none, the last step's weights ship)
    val_models: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=list)

    def variant_config(self, num_models: int, space: str) -> ExtractorTrainingConfig:
        """The base training config for one variant, at this study's budget."""
        base = ExtractorTrainingConfig.from_yaml(self.training_config)
        k = self.images_per_group
        if self.images_per_model is not None:
            per_model = max(k, self.images_per_model // k * k)
            budget = min(self.max_image_budget, num_models * per_model)
        else:
            per_model = max(k, self.image_budget // num_models // k * k)
            budget = self.image_budget
        total = num_models + self.val_models
        data = {
            **base.data,
            "num_models": total,
            "space": space,
            "images_per_model": per_model,
            "images_per_group": k,
            "models_per_batch": self.models_per_batch,
            "val_fraction": self.val_models / total,
            "val_split": "model",
            "interleave": True,
            "cache_models": total,
        }
        return _overridden(replace(base, data=data, image_budget=budget, seed=self.seed), self.overrides)

    def study_variants(self) -> list[StudyVariant]:
        out = []
        for variant in self.variants:
            num_models, space = int(variant["num_models"]), str(variant.get("space", "paper"))
            cfg = self.variant_config(num_models, space)
            out.append(
                StudyVariant(
                    variant_name(space, num_models),
                    cfg,
                    {
                        "num_models": num_models,
                        "space": space,
                        "images_per_model": cfg.data["images_per_model"],
                        "image_budget": cfg.image_budget,
                    },
                )
            )
        return out


@dataclass
class AblationStudy(ExtractorStudy):
    """A full factorial: every combination of one level per factor, applied over ``training_config``.

    ``factors`` maps a factor name to its levels; a level maps a name to the training-config
    override it stands for (``{spectrum: {net: {input_transform: spectrum}}}``).
    """

    protocol: ClassVar[str] = ABLATION_PROTOCOL
    image_budget: int = 16_000
    #: training-config overrides shared by every variant (``{val_every_steps: 50}``)
    overrides: dict[str, Any] = field(default_factory=dict)
    #: ``full``: every combination; ``half``: the 2^(k-1) fractional factorial with defining
    #: relation I = ABC... (two levels a factor, coded -1 / +1 in the YAML's order), whose main
    #: effects are not confounded with two-factor interactions (resolution k)
    fraction: str = "full"
    factors: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: which study the YAML describes (:func:`load_ablation`)
    kind: str = "factorial"

    def study_variants(self) -> list[StudyVariant]:
        base = ExtractorTrainingConfig.from_yaml(self.training_config)
        names = list(self.factors)
        out = []
        if self.fraction not in ("full", "half"):
            raise ConfigError(f"fraction must be 'full' or 'half', got {self.fraction!r}")
        if self.fraction == "half" and any(len(levels) != 2 for levels in self.factors.values()):
            raise ConfigError("a half fraction needs exactly two levels per factor")
        for levels in itertools.product(*(self.factors[n].items() for n in names)):
            signs = [
                list(self.factors[n]).index(level) * 2 - 1
                for n, (level, _) in zip(names, levels, strict=True)
            ]
            if self.fraction == "half" and math.prod(signs) != 1:
                continue
            cfg = replace(
                _overridden(base, self.overrides, *(o for _, o in levels)),
                image_budget=self.image_budget,
                seed=self.seed,
            )
            choice = {n: level for n, (level, _) in zip(names, levels, strict=True)}
            name = "synthetic_fingerprint[" + ",".join(choice.values()) + "]"
            out.append(StudyVariant(name, cfg, {"factors": choice}))
        return out


@dataclass
class RobustAblationStudy(AblationStudy):
    """The ablation at the new scale, on clean and delivered images: augmentation (the delivery
    chain) x sampling x number of models at one budget, plus ``candidates`` - whole training
    configs (the previous checkpoint's, the robust recipe's) evaluated by the same protocol -
    each recorded on the selection split (the zoo's known generators, never trained on) and
    on the reported one (its unseen generators), clean and at every perturbation level. The
    checkpoint that ships is the candidate best by the selection split."""

    protocol: ClassVar[str] = ROBUST_ABLATION_PROTOCOL
    selection_split: str | None = "known_val"
    #: board name -> training YAML (relative to the study file)
    candidates: dict[str, str] = field(default_factory=dict)
    #: board name -> a factorial row (``row``: a level per factor) with ``overrides`` on top:
    #: one choice changed against that row at its budget (the input probes), derived from the
    #: row so the two cannot drift apart; recorded as candidates are
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, path: Path) -> RobustAblationStudy:
        study = super().from_yaml(path)
        study.candidates = {name: str((path.parent / c).resolve()) for name, c in study.candidates.items()}
        return study  # type: ignore[return-value]

    def study_variants(self) -> list[StudyVariant]:
        rows = super().study_variants()
        trainings = {name: ExtractorTrainingConfig.from_yaml(path) for name, path in self.candidates.items()}
        trainings |= {name: self._probe(name, probe, rows) for name, probe in self.probes.items()}
        candidates = [
            # the training is in the run's key, not the file it came from
            StudyVariant(f"synthetic_fingerprint[{name}]", cfg, {"candidate": name})
            for name, cfg in trainings.items()
        ]
        return [*candidates, *rows]  # candidates (and probes) first

    def _probe(self, name: str, probe: dict[str, Any], rows: list[StudyVariant]) -> ExtractorTrainingConfig:
        """A probe's training: its factorial row's, with the probe's overrides on top."""
        row = next((r for r in rows if r.details["factors"] == probe.get("row")), None)
        if row is None:
            raise ConfigError(
                f"probe {name!r}: no factorial row {probe.get('row')!r}; rows: {[r.name for r in rows]}"
            )
        return _overridden(row.training, probe.get("overrides", {}))


def variant_name(space: str, num_models: int) -> str:
    return f"synthetic_fingerprint[{space},{num_models}]"


def study_levels(perturbations: Sequence[str]) -> list[Any]:
    """Clean, then each delivered level: explicit ones (``jpeg:75``) or a peer's named set
    (``genimage``), read as ``modelprint run --perturbations`` reads them (duplicates once)."""
    from benchmarks.plan import perturbation_levels

    return [None, *(level for level in perturbation_levels(list(perturbations)) if level is not None)]


def run_study(
    variants: list[StudyVariant],
    protocol_name: str,
    zero_shot: dict[str, Any],
    bootstrap_samples: int,
    seed: int,
    store: Any,
    cache: Path,
    console: Any,
    selection_split: str | None = None,
    perturbations: list[str] = (),  # type: ignore[assignment]
) -> list[str]:
    """Train and evaluate every variant not yet in the store; returns the run ids written.

    Each variant is evaluated zero shot on the reported split (``zero_shot["split"]``, the
    zoo's unseen generators) and, where given, on ``selection_split`` (generators the
    extractor never trained on that are not the test: the zoo's known ones), clean and at each
    perturbation level (the evaluated split's images perturbed, as the robustness track does)."""
    evaluations, splits = study_evaluations(zero_shot, bootstrap_samples, selection_split, perturbations)
    written = []
    for variant in variants:
        written += _study_variant(variant, protocol_name, evaluations, splits, seed, store, cache, console)
    return written


def study_evaluations(
    zero_shot: dict[str, Any],
    bootstrap_samples: int,
    selection_split: str | None,
    perturbations: Sequence[str],
    reported: bool = True,
) -> tuple[list[Evaluation], dict[str, Any]]:
    """A study's zero-shot evaluations and the zoo's splits they read: on ``selection_split``
    (with its folded twin) where given, and on the reported split (``zero_shot["split"]``)
    unless ``reported`` is False; each clean and at each perturbation level."""
    from benchmarks.protocols.base import FIT_SPLITS
    from benchmarks.protocols.zero_shot import ZeroShotProtocol
    from benchmarks.runner import load_named_splits
    from datamodules.perturbations import perturbed_split

    # (protocol, its folded twin for embeddings fitted on known generators; None when reported)
    protocols: list[tuple[Any, Any]] = []
    if selection_split is not None:
        selection = {**zero_shot, "split": selection_split}
        protocols.append(
            (
                ZeroShotProtocol(bootstrap_samples=bootstrap_samples, **selection),
                ZeroShotProtocol(
                    bootstrap_samples=bootstrap_samples, fit_folds=SELECTION_FIT_FOLDS, **selection
                ),
            ),
        )
    if reported:
        protocols.append((ZeroShotProtocol(bootstrap_samples=bootstrap_samples, **zero_shot), None))
    levels = study_levels(perturbations)
    # generators only: the known-val pairs that set zero shot's honest threshold are the known
    # generators' (a study compares extractors on unseen generators; its recorded runs were so)
    needed = {s for p, _ in protocols for s in p.feature_splits()}
    splits = load_named_splits("zoo", {"include_real": False}, dict.fromkeys((*FIT_SPLITS, *sorted(needed))))
    evaluations = []
    for protocol, folded in protocols:
        for level in levels:
            split = (
                splits[protocol.split] if level is None else perturbed_split(splits[protocol.split], level)
            )
            evaluations.append(Evaluation(protocol, level.spec if level else None, split, folded))
    return evaluations, splits


@dataclass(frozen=True, eq=False)  # one evaluation is itself: compared and hashed by identity
class Evaluation:
    """One zero-shot evaluation of a study: a protocol (its split) on clean or perturbed images."""

    protocol: Any
    perturbation: str | None
    split: Any  # the evaluated split's images (perturbed where ``perturbation`` says)
    #: on the selection split (known generators): the same protocol with ``fit_folds``, for the
    #: folded embeddings; None on the reported split
    folded: Any = None

    def label(self, protocol_name: str) -> str:
        return protocol_name if self.perturbation is None else f"{protocol_name}@{self.perturbation}"

    def protocol_for(self, embedding: Embedding) -> Any:
        return self.folded if embedding.folded and self.folded is not None else self.protocol

    def records(self, embedding: Embedding) -> bool:
        return self.folded is not None or embedding.reported


def _study_variant(
    variant: StudyVariant,
    protocol_name: str,
    evaluations: list[Evaluation],
    splits: dict[str, Any],
    seed: int,
    store: Any,
    cache: Path,
    console: Any,
) -> list[str]:
    from core.hashing import config_hash
    from leaderboards.store import RunKey

    cfg = variant.training
    embeddings = EMBEDDINGS
    if "candidate" in variant.details and any(e.folded is not None for e in evaluations):
        embeddings += CANDIDATE_EMBEDDINGS
    # runs are filed under the data set's version (the reported split's hash, as the first
    # studies were), so the board reads them with the data set; each evaluated split's own
    # (perturbed) hash is in the run's details
    data_hash = splits[evaluations[-1].protocol.split].data_hash

    def config(evaluation: Evaluation, embedding: Embedding) -> dict[str, Any]:
        return {
            "training": cfg.key(),
            **variant.details,
            "protocol": evaluation.protocol_for(embedding).config(),
            "embedding": embedding.name,
            **({"perturbation": evaluation.perturbation} if evaluation.perturbation else {}),
        }

    def key(evaluation: Evaluation, embedding: Embedding) -> Any:
        return RunKey(
            variant.name,
            evaluation.label(protocol_name + embedding.suffix),
            "zoo",
            evaluation.protocol.split,
            seed,
            config_hash(config(evaluation, embedding)),
            data_hash,
        )

    todo = [
        (e, emb)
        for e in evaluations
        for emb in embeddings
        if e.records(emb) and not store.has_run(key(e, emb))
    ]
    if not todo:
        console.print(f"{escape(variant.name)}: already in the store")
        return []
    from leaderboards.claims import CellClaims

    # one claim per variant: two runs of a study on one store never train the same extractor
    claim = RunKey.cell_id(variant.name, protocol_name, "zoo", seed, cfg.key(), data_hash)
    with CellClaims(store) as claims:
        if claim not in claims.claim([claim]):
            console.print(f"{escape(variant.name)}: another run on this store holds it; left to that run")
            return []
        return _evaluate_variant(
            variant, protocol_name, todo, config, splits, data_hash, seed, store, cache, console
        )


def _evaluate_variant(
    variant: StudyVariant,
    protocol_name: str,
    todo: list[tuple[Evaluation, Embedding]],
    config: Any,
    splits: dict[str, Any],
    data_hash: str,
    seed: int,
    store: Any,
    cache: Path,
    console: Any,
) -> list[str]:
    """Train (or load) the variant's extractor, then evaluate and record what ``todo`` lacks."""
    from benchmarks.provenance import run_record
    from core.seeding import seed_all
    from lightning_modules.synthetic_fingerprint.methods import SyntheticFingerprintMethod

    cfg = variant.training
    start = time.perf_counter()
    directory = trained_directory(cfg, cache)
    summary = train_extractor(cfg, directory, quiet=True)
    seed_all(seed)
    method = SyntheticFingerprintMethod(checkpoint=str(directory))
    method.fit_extractor(None, None, seed)

    written = []
    for evaluation, results in evaluated_embeddings(method, todo, splits, seed):
        records = []
        for embedding, result in results:
            record = run_record(
                method=variant.name,
                protocol=evaluation.label(protocol_name + embedding.suffix),
                dataset="zoo",
                split=result.split,
                seed=seed,
                config=config(evaluation, embedding),
                data_hash=data_hash,
                wall_time_s=time.perf_counter() - start,
                details={
                    **variant.details,
                    "embedding": embedding.name,
                    "training": summary,
                    "evaluated_data_hash": evaluation.split.data_hash,
                    **result.details,
                },
            )
            records.append((record, result.figures))
            figures = {f.metric: f.value for f in result.figures}
            level = evaluation.perturbation or "clean"
            folds = ", in folds" if "fit_folds" in result.details else ""
            console.print(
                f"{escape(variant.name)} ({embedding.name}{folds}, {result.split}, {level}): "
                f"identification {figures.get('identification_accuracy', float('nan')):.3f}, "
                f"verification AUROC {figures.get('verification_auroc', float('nan')):.3f}"
            )
        written += store.write_runs(records)  # an evaluation's runs land together, or none of them
    return written


def evaluated_embeddings(
    method: Any, todo: list[tuple[Evaluation, Embedding]], splits: dict[str, Any], seed: int
) -> Iterator[tuple[Evaluation, list[tuple[Embedding, Any]]]]:
    """Each evaluation of ``todo`` with its results under each of its embeddings: the method's
    features cached as the benchmark caches them, its head fitted on the clean known splits,
    then zero shot on the evaluation's (perturbed) split, ``zero_shot_embedding`` switched."""
    from benchmarks.feature_cache import FeatureCache
    from benchmarks.featurise import cached_extract
    from benchmarks.protocols.base import FIT_SPLITS
    from lightning_modules.base import Features

    feature_cache = FeatureCache()

    def features_of(split: Any) -> Any:
        values = cached_extract(method, split, split.name, feature_cache, 256)
        return Features(split.name, values, split.labels, split.generator_ids)

    clean = {
        s: features_of(splits[s]) for s in dict.fromkeys((*FIT_SPLITS, *(e.protocol.split for e, _ in todo)))
    }
    method.fit_head(clean["known_train"], clean["known_val"], seed)
    for evaluation in dict.fromkeys(e for e, _ in todo):
        features = dict(clean)
        if evaluation.perturbation is not None:
            features[evaluation.protocol.split] = features_of(evaluation.split)
        results = []
        for embedding in dict.fromkeys(emb for e, emb in todo if e is evaluation):
            method.zero_shot_embedding = embedding.name
            results += [
                (embedding, result)
                for result in evaluation.protocol_for(embedding).evaluate(method, features, seed)
            ]
        yield evaluation, results


def trained_directory(cfg: ExtractorTrainingConfig, cache: Path) -> Path:
    """Where a training config's extractor is: the shipped checkpoint, or a network kept in the
    repository as a start (the pristine one the shipped checkpoint fine-tunes), when it is that
    training; else the cache (trained there on first use)."""
    from lightning_modules.synthetic_fingerprint.methods import SHIPPED_CHECKPOINT
    from lightning_modules.synthetic_fingerprint.training import PRETRAINED, WEIGHTS_FILE

    kept = [SHIPPED_CHECKPOINT, *(sorted(PRETRAINED.iterdir()) if PRETRAINED.is_dir() else [])]
    for directory in kept:
        summary = directory / "summary.json"
        complete = summary.is_file() and (directory / WEIGHTS_FILE).is_file()
        if complete and json.loads(summary.read_text()).get("key") == cfg.key():
            return directory
    return cache / "extractors" / cfg.key()


def run_scaling(study: ScalingStudy, store: Any, cache: Path, console: Any) -> list[str]:
    return study.run(store, cache, console)


def run_ablation(
    study: AblationStudy, store: Any, cache: Path, console: Any, levels: list[str] = ()
) -> list[str]:
    """Run the variants holding every level in ``levels`` (all variants when it is empty); a
    candidate of a robust ablation is selected by its name (``levels=[previous]``)."""

    def names(variant: StudyVariant) -> set[str]:
        return set(variant.details.get("factors", {}).values()) | {variant.details.get("candidate", "")} - {
            ""
        }

    variants = study.study_variants()
    known = set().union(*(names(v) for v in variants))
    unknown = sorted(set(levels) - known)
    if unknown:
        raise ConfigError(f"unknown ablation level(s) {unknown}; valid: {', '.join(sorted(known))}")
    return study.run(store, cache, console, [v for v in variants if set(levels) <= names(v)])


def load_ablation(path: Path) -> AblationStudy:
    """The ablation a YAML describes: ``kind: robust`` (selection and reported splits, delivered
    images, candidates) or the plain factorial (the default)."""
    from core.yaml_config import read_yaml_mapping

    kind = read_yaml_mapping(path).get("kind", "factorial")
    studies = {"factorial": AblationStudy, "robust": RobustAblationStudy}
    if kind not in studies:
        raise ConfigError(f"{path}: unknown ablation kind {kind!r}; valid: {', '.join(studies)}")
    return studies[kind].from_yaml(path)
