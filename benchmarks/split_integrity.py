"""Checks that a data set's splits can give honest figures, run before any fitting starts.

A figure is wrong without any error when the splits leak into each other: an "unseen"
generator that is also known scores its open-set AUROC on a generator the method was fitted
on, an image in both ``known_train`` and ``known_test`` is tested on after being trained on.
So, over the splits a run loads:

* a generator has one role: known (``known_*``), or one unseen group;
* no image is in two splits (by the hash of its decoded pixels, so a copy re-encoded to
  another file is found too); ``unseen_all`` is the union of the unseen groups and is not
  compared with them; ``semantic_shift`` (known recipes on other content) may share
  generators with the unseen groups, and is held apart from the known splits only.

And the data hash a run is keyed by covers every split (:func:`data_set_hash`), so that a
changed test image makes a new run rather than a skip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from core.errors import DataError
from datamodules.zoo.datamodule import REAL_CLASS

UNSEEN_GROUPS = ("unseen_seed", "unseen_dataset", "unseen_architecture")
KNOWN_SPLITS = ("known_train", "known_val", "known_test")
#: real (not generated) images, split as the known generators' are: the detection protocol's
REAL_SPLITS = ("real_train", "real_val", "real_test")
#: the known generators' recipes on other content (an open-set subset; see the zoo's loader)
SEMANTIC_SHIFT = "semantic_shift"


def data_set_hash(splits: Mapping[str, Any]) -> str:
    """One hash over every split's own hash (each covers its images, labels, order, decoding
    and skipped files). Where every split is cut from the same source - the zoo's splits all
    carry the digest of the one artifact, which covers them all - it is that hash; options
    that cut it otherwise (the zoo's real class) are in the run's config."""
    hashes = {name: getattr(split, "source_hash", None) or split.data_hash for name, split in splits.items()}
    if len(set(hashes.values())) == 1:
        return next(iter(hashes.values()))
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(hashes):
        digest.update(f"{name}={hashes[name]};".encode())
    return digest.hexdigest()


def check_roles(splits: Mapping[str, Any]) -> None:
    """A generator named in two roles (known and unseen, or two unseen groups) is an error."""
    roles: dict[str, str] = {}
    for name in (*KNOWN_SPLITS, *UNSEEN_GROUPS, *REAL_SPLITS):
        if name not in splits:
            continue
        role = "known" if name in KNOWN_SPLITS else "real" if name in REAL_SPLITS else name
        for generator in splits[name].generator_ids:
            if roles.setdefault(generator, role) != role:
                raise DataError(
                    f"generator {generator!r} is both {roles[generator]} and {role}: a generator has "
                    "one role (known, or one unseen group), else its figures measure a leak"
                )


def _where(split: Any, index: int) -> str:
    origins = getattr(split, "origins", None)
    return origins[index] if origins else f"{split.name} image {index}"


def _holds(splits: Mapping[str, Any], a: str, b: str) -> bool:
    """Whether one of splits ``a``, ``b`` is a real split whose images the matching known split
    holds by design as its class ``real`` (``real_train`` in ``known_train``, say)."""
    pair = {name.split("_", 1)[0]: name for name in (a, b)}
    known, real = pair.get("known"), pair.get("real")
    return (
        known is not None
        and real is not None
        and known.split("_", 1)[1] == real.split("_", 1)[1]
        and REAL_CLASS in splits[known].generator_ids
    )


def check_disjoint_images(
    splits: Mapping[str, Any], names: tuple[str, ...] = (*KNOWN_SPLITS, *UNSEEN_GROUPS, *REAL_SPLITS)
) -> None:
    """No image (by decoded content) in two splits; the error names both copies and the count.
    A known split's class ``real`` is drawn from the real split of the same part, not a leak."""
    first_seen: dict[bytes, tuple[str, int]] = {}
    clashes: list[tuple[tuple[str, int], tuple[str, int]]] = []
    for name in names:
        if name not in splits:
            continue
        pixels = splits[name].images.contiguous().numpy()
        for index in range(len(pixels)):
            key = hashlib.blake2b(pixels[index].tobytes(), digest_size=16).digest()
            seen = first_seen.setdefault(key, (name, index))
            if seen[0] != name and not _holds(splits, seen[0], name):
                clashes.append((seen, (name, index)))
    if clashes:
        (a_split, a), (b_split, b) = clashes[0]
        raise DataError(
            f"{len(clashes)} image(s) are in two splits, e.g. {_where(splits[b_split], b)} ({b_split}) "
            f"is the same image as {_where(splits[a_split], a)} ({a_split}); remove the copies so "
            "no image is both fitted on and tested on (or, for a deliberate overlap study, "
            "--allow_overlap=true)"
        )


def check_shift_apart(splits: Mapping[str, Any], allow_overlap: bool = False) -> None:
    """The semantic-shift split holds no known generator - unless it is its own counterpart (a
    known generator's images of other content) - and (unless ``allow_overlap``) no image of a
    known split: its figures are about content the methods were not fitted on."""
    if SEMANTIC_SHIFT not in splits:
        return
    shifted = splits[SEMANTIC_SHIFT]
    known = {g for name in KNOWN_SPLITS if name in splits for g in splits[name].generator_ids}
    own = set(shifted.generator_ids) - {  # a known generator on other content is its own counterpart
        g for g, c in zip(shifted.generator_ids, shifted.counterparts or (), strict=False) if g == c
    }
    both = sorted(known & own)
    if both:
        raise DataError(
            f"generator(s) {both} are both known and in {SEMANTIC_SHIFT}: a generator has one role"
        )
    if not allow_overlap:
        check_disjoint_images(
            {name: splits[name] for name in (*KNOWN_SPLITS, SEMANTIC_SHIFT) if name in splits},
            (*KNOWN_SPLITS, SEMANTIC_SHIFT),
        )


def check_split_integrity(splits: Mapping[str, Any], allow_overlap: bool = False) -> None:
    """Every check above, on the loaded splits; ``allow_overlap`` (a deliberate overlap study,
    recorded in the run's config) lets an image be in two splits."""
    check_roles(splits)
    check_shift_apart(splits, allow_overlap)
    if not allow_overlap:
        check_disjoint_images(splits)
