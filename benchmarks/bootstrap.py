"""Percentile bootstrap confidence intervals (Efron & Tibshirani 1993) for any figure."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from core.seeding import generator_for
from leaderboards.store import Figure


def bootstrap_interval(
    statistic: Callable[[Sequence[torch.Tensor]], float],
    sizes: Sequence[int],
    samples: int,
    seed: int,
    level: float = 0.95,
) -> tuple[float, float] | tuple[None, None]:
    """CI of ``statistic`` under resampling with replacement, independently per group.

    ``sizes`` gives the size of each group to resample (e.g. known and unknown images are
    resampled separately, so every replicate keeps both); ``statistic`` receives one index
    tensor per group. Replicates where the statistic is undefined (raises ``ValueError``)
    are skipped; where none is defined (a tiny split: every resample misses a class) the
    figure has no interval rather than an invented one.
    """
    gen = generator_for("bootstrap", seed)
    values = []
    for _ in range(samples):
        indices = [torch.randint(0, n, (n,), generator=gen) for n in sizes]
        try:
            values.append(float(statistic(indices)))
        except ValueError:
            continue
    if not values:
        return None, None
    tail = (1 - level) / 2
    v = torch.tensor(values)
    return float(v.quantile(tail)), float(v.quantile(1 - tail))


def figure_with_interval(
    metric: str,
    statistic: Callable[[Sequence[torch.Tensor]], float],
    sizes: Sequence[int],
    samples: int,
    seed: int,
) -> Figure:
    """The figure on all data, with its bootstrap interval."""
    value = float(statistic([torch.arange(n) for n in sizes]))
    low, high = bootstrap_interval(statistic, sizes, samples, seed) if samples else (None, None)
    return Figure(metric, value, low, high)


def mean_over_episodes(metric: str, per_episode: Sequence[float], samples: int, seed: int) -> Figure:
    """The mean over episodes, with a bootstrap interval over episodes."""
    values = torch.tensor(per_episode, dtype=torch.float64)
    return figure_with_interval(metric, lambda idx: values[idx[0]].mean(), [len(values)], samples, seed)
