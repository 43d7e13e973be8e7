"""How the board reads a protocol's runs, as the protocol declares it.

Each protocol (and each study that files runs under its own protocol name) says which of its
figures make the README's headline, which figures its robustness tables show and on which
splits, and which per-generator views it has. The board command collects these declarations
from the protocol registry and hands them to the renderers, so the leaderboard code names no
protocol and adding a protocol is one file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class HeadlineColumn:
    """One column of the README's headline table: a protocol's figure on one split."""

    #: the column's place in the headline, left to right
    position: int
    split: str
    metric: str
    title: str


@dataclass(frozen=True)
class Judging:
    """What the board reads from one protocol's runs."""

    headline: tuple[HeadlineColumn, ...] = ()
    #: the figures a robustness table is drawn for (none: no robustness table)
    robustness_metrics: tuple[str, ...] = ()
    #: the splits robustness is tabled on (None: every split the protocol records)
    robustness_splits: tuple[str, ...] | None = None
    #: per-generator views: (split, the view's title)
    per_generator: tuple[tuple[str, str], ...] = ()
    #: its figures read the method's zero-shot embedding, so the method arguments that only
    #: post-process features (``core.method_options``) change them
    reads_embedding: bool = False


#: protocol name -> how it is judged
Judgings = Mapping[str, Judging]


def headline_columns(judgings: Judgings) -> list[tuple[str, HeadlineColumn]]:
    """(protocol, column) of every headline column, left to right."""
    columns = [(protocol, column) for protocol, judging in judgings.items() for column in judging.headline]
    return sorted(columns, key=lambda item: item[1].position)


def per_generator_views(judgings: Judgings) -> list[tuple[str, str, str]]:
    """(protocol, split, title) of every per-generator view, protocols in name order."""
    return [
        (protocol, split, title)
        for protocol in sorted(judgings)
        for split, title in judgings[protocol].per_generator
    ]
