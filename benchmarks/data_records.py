"""Records of the data set itself, stored beside the methods' runs: each generator's average
residual spectrum - the picture researchers look at first (Marra et al. 2019; Wang et al.
2020: up-sampling leaves periodic peaks in the mean spectrum of the noise residual).

One run per data-set version and options (method ``data``, protocol ``residual_spectra``,
split ``generators``), written by the benchmark runner before any method runs and skipped
when the store holds it; its details keep every generator's mean spectrum (centred, log
magnitude of the 3x3-median residual, averaged over channels and images) and the board
draws them. Its one figure is the data set's fingerprint diversity (the mean pairwise RMS
distance of those spectra, as ``modelprint synth stats`` reports for synthetic spaces).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch

from benchmarks.provenance import run_record
from benchmarks.split_integrity import KNOWN_SPLITS, REAL_SPLITS, SEMANTIC_SHIFT, UNSEEN_GROUPS
from core.hashing import config_hash
from core.metrics.synthetic_quality import FingerprintDiversity, MeanResidualSpectrum
from datamodules.zoo.datamodule import REAL_CLASS
from leaderboards.store import Figure, ResultsStore, RunKey

DATA_METHOD = "data"
RESIDUAL_SPECTRA = "residual_spectra"
SPECTRA_SPLIT = "generators"
DENOISER = "median3"
#: where each generator is listed from, in the board's order: known, unseen, real, shifted
GROUP_ORDER = (*KNOWN_SPLITS, *UNSEEN_GROUPS, *REAL_SPLITS, SEMANTIC_SHIFT)


def generator_groups(splits: Mapping[str, Any]) -> dict[str, tuple[str, list[tuple[Any, int]]]]:
    """generator id -> (its group: known / an unseen group / real / semantic_shift, the
    (split, label) pairs holding its images). The known splits' merged ``real`` class is left
    to the real splits, which keep each data set's real images apart; a generator already
    listed (the semantic-shift split repeats unseen ones) is not counted twice."""
    groups: dict[str, tuple[str, list[tuple[Any, int]]]] = {}
    for name in GROUP_ORDER:
        if name not in splits:
            continue
        group = "known" if name in KNOWN_SPLITS else "real" if name in REAL_SPLITS else name
        split = splits[name]
        for label, generator in enumerate(split.generator_ids):
            if generator == REAL_CLASS and group == "known":
                continue
            entry = groups.setdefault(generator, (group, []))
            if entry[0] == group:
                entry[1].append((split, label))
    return groups


def residual_spectra(splits: Mapping[str, Any]) -> tuple[list[dict[str, Any]], torch.Tensor, float]:
    """Per generator (``generator_groups``' order): id, group and image count; their mean
    spectra (G x R x R); and the data set's fingerprint diversity."""
    groups = generator_groups(splits)
    resolution = next(iter(splits.values())).images.shape[-1]
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
    return rows, spectra.compute(), float(diversity.compute())


def record_data(
    store: ResultsStore, splits: Mapping[str, Any], dataset: str, data_hash: str, options: dict[str, Any]
) -> str | None:
    """Write the data set's residual-spectra record unless the store holds it; returns its run
    id (None when it was there). ``options`` (the loader's, as the cells record them) are part
    of its configuration: the zoo with a semantic shift lists other generators."""
    config = {"denoiser": DENOISER, "dataset_args": {k: str(v) for k, v in options.items()}}
    key = RunKey(DATA_METHOD, RESIDUAL_SPECTRA, dataset, SPECTRA_SPLIT, 0, config_hash(config), data_hash)
    if store.has_run(key):
        return None
    start = time.perf_counter()
    rows, spectra, diversity = residual_spectra(splits)
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
            "spectra": [[[round(v, 2) for v in line] for line in image] for image in spectra.tolist()],
            "spectrum": "log |FFT| of the 3x3-median residual, centred, mean over channels and images",
        },
    )
    return store.write_run(record, [Figure("fingerprint_diversity", diversity)])
