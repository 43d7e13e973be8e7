"""What a benchmark run *is*, worked out once before any work: the plan.

:func:`parse_plan` validates a :class:`BenchmarkConfig` - names, method/protocol compatibility,
seeds, shard, crops, perturbation levels, every method's arguments (read once from its YAML)
and the data set's options - and returns a :class:`RunPlan`. Each :class:`Cell` of the plan
carries the configuration recorded with its runs and that configuration's hash, computed once
(a method's input files, such as the flagship's checkpoint, are digested once per method).
Nothing here fits or loads images; the runner (:mod:`benchmarks.runner`) executes the plan.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from benchmarks.config import BenchmarkConfig
from benchmarks.protocols import PROTOCOLS
from benchmarks.protocols.base import Protocol
from benchmarks.split_integrity import KNOWN_SPLITS, REAL_SPLITS, SEMANTIC_SHIFT, UNSEEN_GROUPS, data_set_hash
from core.errors import ModelprintError
from core.hashing import config_hash
from core.yaml_config import check_typed
from datamodules import DATASETS, READING_OPTIONS, TRAINING_DATASETS, content_options
from datamodules.perturbations import (
    Perturbation,
    PerturbationError,
    expand_presets,
    parse_perturbation,
    perturbed_split,
)
from leaderboards.store import RunKey
from lightning_modules import METHODS
from lightning_modules.method_config import check_method_args, method_args

#: the unseen splits, which a layout may not have
OPTIONAL_SPLITS = (*UNSEEN_GROUPS, "unseen_all", *REAL_SPLITS, SEMANTIC_SHIFT)
#: perturbation specs that mean "the clean images"
CLEAN = ("none", "clean")


class PlanError(ModelprintError, ValueError):
    """The benchmark configuration cannot run; raised before any work starts."""


@dataclass(frozen=True)
class Variant:
    """A protocol as evaluated under one perturbation of its test splits (None: clean)."""

    protocol: Protocol
    perturbation: Perturbation | None = None

    @property
    def name(self) -> str:
        """The protocol name the store records: ``open_set`` or ``open_set@jpeg:75``."""
        return (
            self.protocol.name
            if self.perturbation is None
            else f"{self.protocol.name}@{self.perturbation.spec}"
        )

    def split_variant(self, split_name: str) -> Perturbation | None:
        """The splits the protocol fits on stay clean; only what it tests on is perturbed."""
        return None if split_name in self.protocol.fit_splits() else self.perturbation


def cell_label(method: str, protocol: str, seed: int) -> str:
    """``method|protocol|seed``: how a sweep trial finds its cell among a run's hashes."""
    return f"{method}|{protocol}|{seed}"


@dataclass(frozen=True)
class Cell:
    """One unit of work: a method, a protocol (clean or perturbed) and a seed, with the
    configuration its runs record and that configuration's hash (part of their key)."""

    method: str
    variant: Variant
    seed: int
    config: dict[str, Any] = field(compare=False, repr=False)
    config_hash: str = field(compare=False)

    @property
    def label(self) -> str:
        return cell_label(self.method, self.variant.name, self.seed)

    def run_key(self, dataset: str, split: str, data_hash: str) -> RunKey:
        """The store key of the cell's run on one of its result splits."""
        return RunKey(self.method, self.variant.name, dataset, split, self.seed, self.config_hash, data_hash)

    def claim_id(self, dataset: str, data_hash: str) -> str:
        """The identity two runs of one plan agree on: what a claim names."""
        return RunKey.cell_id(self.method, self.variant.name, dataset, self.seed, self.config_hash, data_hash)


@dataclass
class RunPlan:
    """A validated run: the methods with their arguments, the protocols, the perturbation
    levels, the shard, and the data set's label and content options."""

    cfg: BenchmarkConfig
    #: method name -> its arguments (YAML and overrides), read once
    methods: dict[str, dict[str, Any]]
    protocols: list[Protocol]
    #: perturbation levels, None = clean
    levels: list[Perturbation | None]
    shard: tuple[int, int] | None
    #: what the runs are filed under (``genimage:GenImage``)
    dataset_label: str
    #: the data set's options that change what its splits hold, defaults included
    dataset_options: dict[str, Any]
    #: methods a run of every method left out, one line each saying why
    notes: list[str] = field(default_factory=list)
    _input_files: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    @property
    def content_options(self) -> dict[str, Any]:
        """The data set's options that change what it holds (defaults included): what a cell's
        config records under ``dataset_args``; where it is read from is not among them."""
        return content_options({**self.dataset_options, **self.cfg.dataset_args})

    @property
    def reading_options(self) -> dict[str, str]:
        """Where and how the data set was read (its path...): recorded in each run's details."""
        return {k: str(v) for k, v in self.cfg.dataset_args.items() if k in READING_OPTIONS}

    @property
    def explicit_protocols(self) -> bool:
        return self.cfg.protocols is not None

    def input_files(self, method: str) -> dict[str, str]:
        """The method's input files and their digests (computed once per method)."""
        if method not in self._input_files:
            files = METHODS.entry(method).factory.input_files(self.methods[method])
            self._input_files[method] = {str(name): digest for name, digest in (files or {}).items()}
        return self._input_files[method]

    def cell_config(self, method: str, variant: Variant) -> dict[str, Any]:
        """The configuration recorded with (and hashed into the key of) one cell's runs; a clean
        cell's config has no perturbation key, so clean runs keep the keys they always had."""
        cfg = self.cfg
        config: dict[str, Any] = {
            "method": method,
            "method_args": self.methods[method],
            "protocol": variant.name,
            "protocol_args": variant.protocol.config(),
            "dataset": self.dataset_label,
            "dataset_args": {k: str(v) for k, v in self.content_options.items()},
        }
        if variant.perturbation is not None:
            config["perturbation"] = variant.perturbation.spec
        if cfg.allow_overlap:
            config["allow_overlap"] = True
        if cfg.test_crops != 1:  # whole-image cells keep the keys they always had
            config["test_crops"] = cfg.test_crops
        files = self.input_files(method)
        if files:  # a cell is stale when a file it reads changes (a new shipped checkpoint)
            config["input_files"] = files
        return config

    def cell(self, method: str, variant: Variant, seed: int) -> Cell:
        config = self.cell_config(method, variant)
        return Cell(method, variant, seed, config, config_hash(config))

    def cells(self, variants: list[Variant]) -> list[Cell]:
        """Every (method, seed, variant) of this shard that the method can serve, in run order."""
        return [
            self.cell(m, v, s)
            for m in self.methods
            for s in self.cfg.seeds
            if in_shard(m, s, self.shard)
            for v in variants
            if v.protocol.requires in METHODS.entry(m).factory.capabilities
        ]


def parse_plan(cfg: BenchmarkConfig) -> RunPlan:
    """Validate ``cfg`` and work out everything a run needs to know before it loads images."""
    for option in ("methods", "protocols"):
        chosen = getattr(cfg, option)
        if chosen == []:
            raise PlanError(f"--{option}=[] selects nothing; leave it out to run all of them")
        repeated = sorted({name for name in chosen or [] if chosen.count(name) > 1})
        if repeated:  # the work would be done twice
            raise PlanError(f"--{option} names {repeated} more than once")
    names = cfg.methods if cfg.methods is not None else METHODS.names()
    protocol_names = (
        cfg.protocols
        if cfg.protocols is not None
        else [name for name in PROTOCOLS.names() if PROTOCOLS.entry(name).factory.by_default]
    )
    check_seeds(cfg.seeds)
    shard = parse_shard(cfg.shard)
    check_test_crops(cfg.test_crops)
    if cfg.bootstrap_samples < 0 or cfg.bootstrap_samples == 1:
        raise PlanError(
            "bootstrap_samples must be 0 (no intervals) or at least 2 (200 is usual), "
            f"got {cfg.bootstrap_samples}"
        )
    for name in names:
        METHODS.entry(name)
    for name in protocol_names:
        PROTOCOLS.entry(name)
    check_data_set_args(cfg)
    stray = sorted(set(cfg.method_args) - set(names))
    if stray:
        raise PlanError(f"method_args for methods not in this run: {stray}; the run's methods: {names}")
    methods = {name: method_args(name, cfg.method_args.get(name), cfg.retrain) for name in names}
    for name, args in methods.items():
        check_method_args(name, args)
    levels = perturbation_levels(cfg.perturbations)
    stray = sorted(set(cfg.protocol_args) - set(protocol_names))
    if stray:
        raise PlanError(
            f"protocol_args for protocols not in this run: {stray}; its protocols: {protocol_names}"
        )
    if cfg.batch_size < 1:
        raise PlanError(f"batch_size must be at least 1, got {cfg.batch_size}")
    protocols = [
        build_protocol(n, cfg.bootstrap_samples, cfg.protocol_args.get(n, {})) for n in protocol_names
    ]
    if cfg.methods and cfg.protocols:  # an explicit request the method cannot serve is an error
        check_capabilities(names, protocols)
    if any(level is not None for level in levels):
        check_perturbable(protocols)
    unavailable = {} if cfg.methods is not None else left_out(methods)
    label, options = describe_data_set(cfg)
    kept = {name: args for name, args in methods.items() if name not in unavailable}
    return RunPlan(cfg, kept, protocols, levels, shard, label, options, list(unavailable.values()))


def build_protocol(name: str, bootstrap_samples: int, args: dict[str, Any]) -> Protocol:
    """The protocol with its arguments, checked against its typed signature first (a misspelt
    key or a wrong type is a ConfigError naming it); a value out of range is a PlanError."""
    check_typed(PROTOCOLS.entry(name).factory, args, f"protocol {name!r} (--protocol_args)")
    try:
        return PROTOCOLS.create(name, bootstrap_samples=bootstrap_samples, **args)
    except ValueError as error:
        raise PlanError(f"protocol {name!r} (--protocol_args): {error}") from None


def check_capabilities(methods: list[str], protocols: list[Protocol]) -> None:
    for name in methods:
        capabilities = METHODS.entry(name).factory.capabilities
        for protocol in protocols:
            if protocol.requires not in capabilities:
                raise PlanError(
                    f"method {name!r} cannot serve protocol {protocol.name!r} "
                    f"(it serves: {', '.join(sorted(capabilities))})"
                )


def check_perturbable(protocols: list[Protocol]) -> None:
    """A perturbed cell perturbs the splits its protocol tests on and keeps those it fits on
    clean; a protocol that tests only on splits it fits on (zero shot with ``split: known_val``)
    would record clean figures under a perturbed name - refused."""
    for protocol in protocols:
        read = dict.fromkeys(protocol.feature_splits())
        if set(read) <= set(protocol.fit_splits()):
            raise PlanError(
                f"protocol {protocol.name!r} tests only on {', '.join(read)}, "
                "which the methods fit on and which stay clean: --perturbations would perturb nothing "
                "it reads. Test on a held-out split, or leave --perturbations out (a perturbed "
                "selection split is `modelprint extractor ablation`'s selection_split)"
            )


def check_data_set_args(cfg: BenchmarkConfig) -> None:
    """The data set (and the reference) exist as evaluation data sets and take these options."""
    if cfg.dataset in TRAINING_DATASETS and cfg.dataset not in DATASETS:
        raise PlanError(
            f"{cfg.dataset!r} is a training data set (methods train on it), not one split into known "
            f"and unseen generators; protocols run on: {', '.join(DATASETS.names())}"
        )
    for dataset, args, flag in (
        (cfg.dataset, cfg.dataset_args, "dataset"),
        (cfg.reference, cfg.reference_args, "reference"),
    ):
        check_typed(
            DATASETS.entry(dataset).factory,
            args,
            f"data set {dataset!r} (--{flag}_args)",
            supplied=("split",),
        )


def left_out(methods: dict[str, dict[str, Any]]) -> dict[str, str]:
    """A run of every method leaves out those that cannot give real figures here (CLIP without
    its weights), each with a line saying why; methods named explicitly are all kept - building
    one then fails with its reason."""
    notes = {}
    for name, args in methods.items():
        reason = METHODS.entry(name).factory.unavailable(args)
        if reason is not None:
            notes[name] = f"left out {name}: {reason.removeprefix(f'{name}: ')}"
    return notes


def perturbation_levels(specs: list[str] | str) -> list[Perturbation | None]:
    """The perturbation levels to run (None = clean), a peer's name (``genimage``) standing for
    its levels; a bad spec is a PlanError."""
    if not specs:
        return [None]
    levels: list[Perturbation | None] = []
    for spec in expand_presets(specs):
        try:
            level = None if str(spec).strip().lower() in CLEAN else parse_perturbation(spec)
        except PerturbationError as error:
            raise PlanError(str(error)) from None
        if level not in levels:
            levels.append(level)
    return levels


def parse_shard(shard: str | None) -> tuple[int, int] | None:
    """``"i/n"`` -> (i, n) with 0 <= i < n; None for the whole plan."""
    if shard is None:
        return None
    index, _, count = str(shard).partition("/")
    if not (index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise PlanError(f"--shard={shard!r}: expected i/n with 0 <= i < n, e.g. --shard=0/4")
    return int(index), int(count)


def in_shard(method: str, seed: int, shard: tuple[int, int] | None) -> bool:
    """Groups are dealt to shards by a stable hash of (method, seed): every shard of every
    machine agrees, whatever order the plan lists them in."""
    if shard is None:
        return True
    digest = hashlib.blake2b(f"{method}|{seed}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shard[1] == shard[0]


def check_seeds(seeds: list[int]) -> None:
    """Seeds are given, distinct (a repeated seed would run its cells twice) and in the range
    every library seeds from (numpy and scikit-learn take 0 .. 2**32 - 1)."""
    if not seeds:
        raise PlanError("no seeds given")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise PlanError(f"seed(s) {repeated} given twice in --seeds={seeds}")
    bad = [s for s in seeds if not 0 <= s < 2**32]
    if bad:
        raise PlanError(f"seed(s) {bad} out of range: a seed is an integer in [0, 2**32)")


def check_test_crops(crops: int) -> int:
    """Test-time crops are 1 (whole images) or a square number of windows."""
    if crops < 1 or math.isqrt(crops) ** 2 != crops:
        raise PlanError(f"test_crops must be 1 or a square (4, 9, 16, ...), got {crops}")
    return math.isqrt(crops)


def crop_windows(image_size: int, crop_size: int | None, crops: int) -> list[int]:
    """Top-left offsets (each axis) of the test-time windows: ``crops`` = g x g windows of
    ``crop_size`` on an evenly spaced grid over the image, corners included; none (whole
    images) with ``crops`` 1, a method of no fixed input size, or images no larger than it."""
    grid = check_test_crops(crops)
    if crops == 1 or crop_size is None or image_size <= crop_size:
        return []
    span = image_size - crop_size
    return sorted({round(i * span / (grid - 1)) for i in range(grid)})


def crop_views(images: torch.Tensor, crop_size: int | None, windows: list[int]) -> list[torch.Tensor]:
    """The test-time windows of a batch (N x C x H x W), one view each, in row-major order of
    ``crop_windows``' offsets; the whole images as the one view where there are no windows."""
    if crop_size is None:
        return [images]
    return [images[..., y : y + crop_size, x : x + crop_size] for y in windows for x in windows] or [images]


def describe_data_set(cfg: BenchmarkConfig) -> tuple[str, dict[str, Any]]:
    """What the run is filed under - the loader's name, and the data set's own name where the
    loader gives one (``genimage:GenImage``), so different data sets never hide each other -
    and the loader's options that change its splits' content, at their effective values (the
    zoo's ``include_real``): a cell's config names them even where the user left the default,
    so that a run under another default is not taken for this one."""
    dm = DATASETS.create(cfg.dataset, split="known_test", **cfg.dataset_args)
    name = getattr(dm, "data_set_name", "")
    options = getattr(dm, "recorded_options", None)
    return (f"{cfg.dataset}:{name}" if name else cfg.dataset), (dict(options()) if options else {})


def present_protocols(protocols: list[Protocol], absent: tuple[str, ...], explicit: bool) -> list[Protocol]:
    """The protocols restricted to the splits the data set has (open set on the unseen groups it
    has). One that cannot run at all is an error when asked for by name, else left out."""
    kept = []
    for protocol in protocols:
        restricted = protocol.restricted(set(absent))
        if restricted is not None:
            kept.append(restricted)
        elif explicit:
            raise PlanError(
                f"protocol {protocol.name!r} needs {', '.join(protocol.feature_splits())}; "
                f"this data set has no {', '.join(absent)}"
            )
    if not kept:
        raise PlanError(f"no protocol can run: this data set has no {', '.join(absent)}")
    return kept


def own_data_protocols(protocols: list[Protocol], known_from: str, explicit: bool) -> list[Protocol]:
    """Where the known splits come from the reference, a protocol that reports only on known
    splits (closed set) would file the reference's figure under this data set's name: left out,
    or an error when asked for by name."""
    kept = [p for p in protocols if not set(p.result_splits()) <= set(KNOWN_SPLITS)]
    dropped = [p.name for p in protocols if p not in kept]
    if dropped and explicit:
        raise PlanError(
            f"{', '.join(dropped)} reports on known generators only, and this data set has none (its known "
            f"splits come from {known_from}); run it on that data set instead"
        )
    if not kept:
        raise PlanError("no protocol can run on a data set with no known generators")
    return kept


class SplitSource:
    """The loaded splits, and their perturbed copies made once and shared by every method."""

    def __init__(self, splits: dict[str, Any], absent: tuple[str, ...] = (), known_from: str = "") -> None:
        self.splits, self.absent, self.known_from = splits, absent, known_from
        self.perturbed: dict[tuple[str, Perturbation], Any] = {}
        self.data_hash = data_set_hash(splits)

    def get(self, name: str, level: Perturbation | None) -> Any:
        if level is None:
            return self.splits[name]
        if (name, level) not in self.perturbed:
            self.perturbed[(name, level)] = perturbed_split(self.splits[name], level)
        return self.perturbed[(name, level)]


@dataclass
class RunSummary:
    """What a run did: counts, timings, and the run ids it wrote."""

    ran: int = 0
    skipped: int = 0
    wall_time_s: float = 0.0
    feature_seconds: float = 0.0
    images_featurised: int = 0
    cache_hits: int = 0
    #: cells another run on the same store computed while this one waited for them
    reused: int = 0
    #: cache entries found damaged or foreign, deleted and recomputed ("file: why")
    cache_rejected: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    #: :func:`cell_label` -> the config hash its runs are keyed by, for every cell of the plan
    #: (run or skipped): what a sweep trial looks its figure up by
    cell_hashes: dict[str, str] = field(default_factory=dict)
