"""Records of the data set itself, stored beside the methods' runs: each generator's average
residual spectrum - the picture researchers look at first (Marra et al. 2019; Wang et al.
2020: up-sampling leaves periodic peaks in the mean spectrum of the noise residual).

One run per data-set version and options (method ``data``, protocol ``residual_spectra``,
split ``generators``), written by the benchmark runner before any method runs and skipped
when the store holds it; its details keep every generator's mean spectrum (centred, log
magnitude of the 3x3-median residual, averaged over channels and images) and the board
draws them. Its one figure is the data set's fingerprint diversity (the mean pairwise RMS
distance of those spectra, as ``modelprint synth stats`` reports for synthetic spaces).

The record is of the data set's *own* generators, in the groups the run has: its known ones,
its named unseen groups, ``unseen_all``'s generators that no group names (with nothing named -
a plain folder of one's own generators - all of them), its real sources, its semantic shift.
Known splits taken from the reference data set (a data set with no known generators) are the
reference's generators, not this data set's: they are left out. A generator with few images
is averaged over the images it has (none in ``known_test`` below 5 images is no error). With
fewer than two generators there is no diversity to measure - and the store keeps no run
without a figure, nor the board a picture without one - so no record is written.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch

from benchmarks.provenance import run_record
from benchmarks.split_integrity import (
    KNOWN_SPLITS,
    REAL_SPLITS,
    SEMANTIC_SHIFT,
    UNSEEN_ALL,
    UNSEEN_GROUPS,
    ungrouped_unseen,
)
from core.hashing import config_hash
from core.metrics.synthetic_quality import FingerprintDiversity, MeanResidualSpectrum
from datamodules.zoo.datamodule import REAL_CLASS
from leaderboards.store import Figure, ResultsStore, RunKey

DATA_METHOD = "data"
RESIDUAL_SPECTRA = "residual_spectra"
SPECTRA_SPLIT = "generators"
DENOISER = "median3"
#: where each generator is listed from, in the board's order: known, unseen (named groups, then
#: ``unseen_all`` for the generators no group names), real, shifted
GROUP_ORDER = (*KNOWN_SPLITS, *UNSEEN_GROUPS, UNSEEN_ALL, *REAL_SPLITS, SEMANTIC_SHIFT)


def generator_groups(
    splits: Mapping[str, Any], reference_known: bool = False
) -> dict[str, tuple[str, list[tuple[Any, int]]]]:
    """generator id -> (its group: known / an unseen group / ``unseen_all`` (no group named) /
    real / semantic_shift, the (split, label) pairs holding its images). The known splits'
    merged ``real`` class is left to the real splits, which keep each data set's real images
    apart; a generator already listed (``unseen_all`` and the semantic-shift split repeat the
    named groups' ones) is not counted twice. ``reference_known``: the known splits are the
    reference data set's (this one has no known generators), so they are left out."""
    groups: dict[str, tuple[str, list[tuple[Any, int]]]] = {}
    ungrouped = set(ungrouped_unseen(splits))
    for name in GROUP_ORDER:
        if name not in splits or (reference_known and name in KNOWN_SPLITS):
            continue
        group = "known" if name in KNOWN_SPLITS else "real" if name in REAL_SPLITS else name
        split = splits[name]
        for label, generator in enumerate(split.generator_ids):
            if (generator == REAL_CLASS and group == "known") or (
                name == UNSEEN_ALL and generator not in ungrouped
            ):
                continue
            entry = groups.setdefault(generator, (group, []))
            if entry[0] == group:
                entry[1].append((split, label))
    return groups


#: generators whose mean spectrum the record keeps (``generators`` lists every one): the zoo's
#: all, a data set of thousands a readable page of them in group order
SPECTRA_SHOWN = 64


def residual_spectra(
    splits: Mapping[str, Any], reference_known: bool = False
) -> tuple[list[dict[str, Any]], torch.Tensor, float | None]:
    """Per generator (``generator_groups``' order): id, group and image count; their mean
    spectra (G x R x R); and the data set's fingerprint diversity (None for fewer than two
    generators with images: no pair to compare)."""
    groups = generator_groups(splits, reference_known)
    parts = [split for _, held in groups.values() for split, _ in held] or list(splits.values())
    resolution = parts[0].images.shape[-1]
    spectra = MeanResidualSpectrum(len(groups), resolution, DENOISER)
    diversity = FingerprintDiversity(len(groups), resolution, DENOISER)
    for index, (_, parts) in enumerate(groups.values()):
        for split, label in parts:
            images = split.images[split.labels == label]
            for batch in images.split(1024):
                model = torch.full((len(batch),), index)
                spectra.update(batch, model)
                diversity.update(batch, model)
    rows = [
        {"generator": g, "group": group, "images": int(count)}
        for (g, (group, _)), count in zip(groups.items(), spectra.counts.tolist(), strict=True)
    ]
    spread = float(diversity.compute()) if int((spectra.counts > 0).sum()) >= 2 else None
    return rows, spectra.compute(), spread


def record_data(
    store: ResultsStore,
    splits: Mapping[str, Any],
    dataset: str,
    data_hash: str,
    options: dict[str, Any],
    reference_known: bool = False,
) -> str | None:
    """Write the data set's residual-spectra record unless the store holds it; returns its run
    id (None when it was there, or for fewer than two generators). ``options`` (the loader's,
    as the cells record them) are part of its configuration: the zoo with a semantic shift
    lists other generators. ``reference_known``: the known splits came from the reference
    data set (left out).

    Where the record covers other generators than before its groups followed the run's (known
    splits from the reference, left out; ungrouped unseen generators, now listed), its
    configuration says so, so that a store holding the earlier record of the same data gets
    the right one instead of a skip; a data set with named groups and its own known generators
    - the zoo - keeps its configuration and record."""
    config: dict[str, Any] = {"denoiser": DENOISER, "dataset_args": {k: str(v) for k, v in options.items()}}
    if reference_known:
        config["known_splits"] = "the reference's, left out"
    if ungrouped_unseen(splits):
        config["unseen_all"] = "generators in no named group, listed"
    key = RunKey(DATA_METHOD, RESIDUAL_SPECTRA, dataset, SPECTRA_SPLIT, 0, config_hash(config), data_hash)
    if store.has_run(key):
        return None
    start = time.perf_counter()
    rows, spectra, diversity = residual_spectra(splits, reference_known)
    if diversity is None:  # one generator: no figure, so no run (see the module docstring)
        return None
    record = run_record(
        method=DATA_METHOD,
        protocol=RESIDUAL_SPECTRA,
        dataset=dataset,
        split=SPECTRA_SPLIT,
        seed=0,
        config=config,
        data_hash=data_hash,
        wall_time_s=time.perf_counter() - start,
        details={
            "generators": rows,
            "spectra": [  # the first generators' only: a page of panels, not thousands
                [[round(v, 2) for v in line] for line in image] for image in spectra[:SPECTRA_SHOWN].tolist()
            ],
            "spectrum": "log |FFT| of the 3x3-median residual, centred, mean over channels and images",
        },
    )
    return store.write_run(record, [Figure("fingerprint_diversity", diversity)])
