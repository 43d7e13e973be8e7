"""Checks that a data set's splits can give honest figures, run before any fitting starts.

A figure is wrong without any error when the splits leak into each other: an "unseen"
generator that is also known scores its open-set AUROC on a generator the method was fitted
on, an image in both ``known_train`` and ``known_test`` is tested on after being trained on.
So, over *every* split a run loads - the known splits (the data set's own, or the reference
data set's when it has none), the named unseen groups, ``unseen_all``, the real splits and
the semantic shift - and for every loader alike:

* a generator has one role: known (``known_*``), real (``real_*``), one named unseen group, or
  unseen with no group (``unseen_all``'s generators that no group names - with nothing named,
  a plain folder of one's own generators, every one of them). So a folder named as one of the
  reference's known generators is refused: its figures would be a known generator's;
* no image is in two splits, under two generators, or twice among one generator's test images
  (a query would meet its own copy among the references), by decoded pixels, so a copy in
  another file or lossless format is found too (:func:`check_disjoint_images`).
  ``unseen_all`` is the union of the named groups and the ungrouped generators, so only its
  ungrouped part is compared - the rest *is* the groups' images; ``semantic_shift`` (known
  recipes on other content) may share generators with the unseen groups, and is held apart
  from the known splits only;
* no image of another generator is a near copy of a known image - re-encoded, brightened,
  slightly blurred or resized (:func:`check_near_duplicates` says exactly what it finds and
  what it misses).

``allow_overlap`` (a run option, recorded in the run's config) lets images repeat, exactly or
nearly, for a deliberate overlap study; generator roles are checked either way.

And the data hash a run is keyed by covers every split (:func:`data_set_hash`), so that a
changed test image makes a new run rather than a skip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from core.errors import DataError
from datamodules.zoo.datamodule import REAL_CLASS

UNSEEN_GROUPS = ("unseen_seed", "unseen_dataset", "unseen_architecture")
#: every unseen generator: the named groups' and those that no group names
UNSEEN_ALL = "unseen_all"
KNOWN_SPLITS = ("known_train", "known_val", "known_test")
#: real (not generated) images, split as the known generators' are: the detection protocol's
REAL_SPLITS = ("real_train", "real_val", "real_test")
#: the known generators' recipes on other content (an open-set subset; see the zoo's loader)
SEMANTIC_SHIFT = "semantic_shift"
#: splits whose images a protocol pairs with each other as queries and references (zero shot's
#: gallery and queries, open set's test images): one generator's image twice there is a leak;
#: twice in a split only fitted on (``known_train``) it is merely weighted double
TEST_SPLITS = ("known_test", *UNSEEN_GROUPS, UNSEEN_ALL, "real_test", SEMANTIC_SHIFT)
#: side of the grey thumbnail the near-duplicate check compares (8 x 8 = 64 values)
NEAR_SIDE = 8
#: two thumbnails correlating at least this much show the same picture (what it finds and misses
#: at this value: :func:`check_near_duplicates`)
NEAR_CORRELATION = 0.99
#: thumbnails flatter than this (RMS about their mean, in grey levels of 255) are not compared:
#: their correlation is the codec's noise, and near-flat pictures repeat innocently
NEAR_MIN_CONTRAST = 1.0
#: pixel values per step (16 M: some 5,000 images of 32 x 32), so the checks' memory stays
#: bounded whatever the data set's size and resolution
_VALUES_AT_ONCE = 1 << 24
#: the most similarities held at once by the near-duplicate check (64 MB of float32)
_PAIRS_AT_ONCE = 1 << 24
#: ITU-R BT.601 luma weights: a grey picture as the eye sees it
_LUMA = (0.299, 0.587, 0.114)


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


def ungrouped_unseen(splits: Mapping[str, Any]) -> tuple[str, ...]:
    """``unseen_all``'s generators that no named unseen group holds: with nothing named (a plain
    folder of one's own generators) every unseen generator; on the zoo, none."""
    if UNSEEN_ALL not in splits:
        return ()
    grouped = {g for name in UNSEEN_GROUPS if name in splits for g in splits[name].generator_ids}
    return tuple(g for g in splits[UNSEEN_ALL].generator_ids if g not in grouped)


def check_roles(splits: Mapping[str, Any]) -> None:
    """A generator in two roles (known and unseen, known and real, two unseen groups) is an
    error; ``unseen_all``'s ungrouped generators have the role ``unseen_all``."""
    named = (*KNOWN_SPLITS, *UNSEEN_GROUPS)
    holders = [(name, splits[name].generator_ids) for name in named if name in splits]
    holders += [(UNSEEN_ALL, ungrouped_unseen(splits))]
    holders += [(name, splits[name].generator_ids) for name in REAL_SPLITS if name in splits]
    roles: dict[str, str] = {}
    for name, generators in holders:
        role = "known" if name in KNOWN_SPLITS else "real" if name in REAL_SPLITS else name
        for generator in generators:
            if roles.setdefault(generator, role) != role:
                raise DataError(
                    f"generator {generator!r} is both {roles[generator]} and {role}: a generator has "
                    "one role (known, or one unseen group), else its figures measure a leak (another "
                    "generator that only shares the name: rename its folder or label)"
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


@dataclass(frozen=True)
class _Pool:
    """Images of several splits side by side, for checks that compare them all at once: for
    each image, the split it is in, its row there, and its generator's name."""

    splits: Mapping[str, Any]
    names: tuple[str, ...]
    split_of: torch.Tensor  # index into ``names``
    row: torch.Tensor
    generators: tuple[str, ...]
    generator_of: torch.Tensor  # index into ``generators``

    @classmethod
    def of(cls, splits: Mapping[str, Any], names: Iterable[str], drop_real_class: bool = False) -> _Pool:
        """Every image of ``names`` present in ``splits`` - of ``unseen_all`` only its ungrouped
        generators' (the rest are the named groups' own images) - and, with
        ``drop_real_class``, none of a known split's class ``real``."""
        ungrouped = set(ungrouped_unseen(splits))
        present = tuple(name for name in names if name in splits)
        generators = tuple(sorted({g for name in present for g in splits[name].generator_ids}))
        index = {g: i for i, g in enumerate(generators)}
        split_of, rows, generator_of = [], [], []
        for number, name in enumerate(present):
            split = splits[name]
            ids = split.generator_ids
            global_id = torch.tensor([index[g] for g in ids], dtype=torch.long)
            wanted = [
                not (name == UNSEEN_ALL and g not in ungrouped)
                and not (drop_real_class and name in KNOWN_SPLITS and g == REAL_CLASS)
                for g in ids
            ]
            labels = split.labels.long()
            keep = torch.tensor(wanted, dtype=torch.bool)[labels]
            kept = keep.nonzero().flatten()
            split_of.append(torch.full((len(kept),), number, dtype=torch.long))
            rows.append(kept)
            generator_of.append(global_id[labels[kept]])
        empty = torch.zeros(0, dtype=torch.long)
        return cls(
            splits,
            present,
            torch.cat([empty, *split_of]),
            torch.cat([empty, *rows]),
            generators,
            torch.cat([empty, *generator_of]),
        )

    def __len__(self) -> int:
        return len(self.row)

    def batches(self) -> Iterable[torch.Tensor]:
        """The pool's images in order, some ``_VALUES_AT_ONCE`` pixel values at a time (never
        all copied at once)."""
        for number, name in enumerate(self.names):
            rows, images = self.row[self.split_of == number], self.splits[name].images
            step = max(1, _VALUES_AT_ONCE // max(1, images[0].numel())) if len(rows) else 1
            for part in rows.split(step) if len(rows) else ():
                yield images[part]

    def split_name(self, position: int) -> str:
        return self.names[int(self.split_of[position])]

    def generator(self, position: int) -> str:
        return self.generators[int(self.generator_of[position])]

    def where(self, position: int) -> str:
        return _where(self.splits[self.split_name(position)], int(self.row[position]))


def pixel_digests(images: torch.Tensor) -> list[bytes]:
    """Each image's decoded pixels as a 128-bit BLAKE2b digest (equal digests are equal pixels
    but with odds below 2**-100 on any data set that fits a disk). One C call per image over
    its bytes: measured on the zoo's 13,500 compared images, 0.2 s - faster than the torch
    alternatives tried (exact float64 products of 16- or 32-bit words, 0.65-0.9 s; a
    ``torch.unique`` of the rows, 0.25 s and a copy of every image), and 16 bytes an image."""
    pixels = images.contiguous().numpy()
    return [hashlib.blake2b(image.tobytes(), digest_size=16).digest() for image in pixels]


def _identical_groups(pool: _Pool) -> list[list[int]]:
    """Positions in the pool of images with identical pixels, each group in pool order."""
    positions: dict[bytes, list[int]] = {}
    for position, digest in enumerate(d for batch in pool.batches() for d in pixel_digests(batch)):
        positions.setdefault(digest, []).append(position)
    return [group for group in positions.values() if len(group) > 1]


def _clash(pool: _Pool, first: int, later: int) -> str | None:
    """What is wrong with two identical images: ``splits`` (in two splits), ``generators``
    (under two generators of one split), ``test`` (twice among one generator's test images),
    or nothing (a known split's class ``real`` drawn from its real split; a generator's image
    twice in a split only fitted on)."""
    a, b = pool.split_name(first), pool.split_name(later)
    if a != b:
        return None if _holds(pool.splits, a, b) else "splits"
    if pool.generator(first) != pool.generator(later):
        return "generators"
    return "test" if a in TEST_SPLITS else None


_ESCAPE = "remove the copies (or, for a deliberate overlap study, --allow_overlap=true)"
#: the kinds of identical images, in the order they are reported
_CLASHES = ("splits", "generators", "test")


def _clash_message(kind: str, pool: _Pool, first: int, later: int) -> str:
    """What follows "N image(s) are" for two identical images of a ``kind`` of clash."""
    if kind == "splits":
        return (
            f"in two splits, e.g. {pool.where(later)} ({pool.split_name(later)}) is the same image as "
            f"{pool.where(first)} ({pool.split_name(first)}); remove the copies so no image is both "
            "fitted on and tested on (or, for a deliberate overlap study, --allow_overlap=true)"
        )
    if kind == "generators":
        return (
            f"under two generators, e.g. {pool.where(later)} ({pool.generator(later)}) is the same image "
            f"as {pool.where(first)} ({pool.generator(first)}) in {pool.split_name(first)}: an image has "
            f"one generator; {_ESCAPE}"
        )
    return (
        f"twice among one generator's test images, e.g. {pool.where(later)} is the same image as "
        f"{pool.where(first)} ({pool.generator(first)}, "
        f"{pool.split_name(first)}): a query would meet its own copy among the references; {_ESCAPE}"
    )


def check_disjoint_images(
    splits: Mapping[str, Any],
    names: tuple[str, ...] = (*KNOWN_SPLITS, *UNSEEN_GROUPS, UNSEEN_ALL, *REAL_SPLITS),
) -> None:
    """No image (by decoded pixels: a copy re-encoded losslessly to another file or format is
    found too) in two splits, under two generators, or twice among one generator's test images
    (:data:`TEST_SPLITS`); the error names two copies and the count. A known split's class
    ``real`` is drawn from the real split of the same part, not a leak."""
    pool = _Pool.of(splits, names)
    found: dict[str, list[tuple[int, int]]] = {kind: [] for kind in _CLASHES}
    for group in _identical_groups(pool):
        for n, later in enumerate(group[1:], start=1):
            for first in group[:n]:
                kind = _clash(pool, first, later)
                if kind is not None:
                    found[kind].append((first, later))
                    break
    for kind in _CLASHES:
        if found[kind]:
            first, later = found[kind][0]
            raise DataError(f"{len(found[kind])} image(s) are {_clash_message(kind, pool, first, later)}")


def thumbnails(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image (uint8, N x C x H x W) as an ``NEAR_SIDE`` x ``NEAR_SIDE`` grey thumbnail
    (area average of BT.601 luma), centred and scaled to unit length - so a dot product of two
    is their Pearson correlation - and its contrast (RMS about its mean, in grey levels)."""
    small = F.adaptive_avg_pool2d(images.float(), NEAR_SIDE)  # area average, then luma: same, cheaper
    luma = torch.tensor(_LUMA).view(1, 3, 1, 1)
    small = ((small * luma).sum(1) if small.shape[1] == 3 else small.mean(1)).flatten(1)
    centred = small - small.mean(1, keepdim=True)
    length = centred.norm(dim=1)
    return centred / length.clamp_min(1e-6)[:, None], length / NEAR_SIDE


def _pool_thumbnails(pool: _Pool) -> tuple[torch.Tensor, torch.Tensor]:
    """The pool's thumbnails and contrasts, computed a bounded batch at a time."""
    parts = [thumbnails(batch) for batch in pool.batches()]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def check_near_duplicates(
    splits: Mapping[str, Any],
    names: tuple[str, ...] = (*KNOWN_SPLITS, *UNSEEN_GROUPS, UNSEEN_ALL, SEMANTIC_SHIFT),
) -> None:
    """No image of one generator is a near copy of a known generator's image.

    Each image becomes an 8 x 8 grey thumbnail (area average); two images are near copies
    when their thumbnails' Pearson correlation is at least ``NEAR_CORRELATION`` (0.99) and both
    have a contrast of at least ``NEAR_MIN_CONTRAST`` (1 grey level RMS). Every known image is
    compared with every image of another generator in ``names`` (the known splits, the unseen
    ones, the semantic shift); a known split's class ``real`` and the real splits are left out
    (a generator may reproduce a real image it was trained on: that is memorisation, not a
    mislabelled copy), and so are pairs of one generator's images (a generator may make near
    twins of its own pictures - mode collapse). Exact copies are :func:`check_disjoint_images`'.

    Measured on 2,000 of the zoo's known images (32 x 32) each re-encoded once, it finds: JPEG
    at quality 95 or 90 (>= 99.7 %), 75 (99.4 %), 50 (97 %), 30 (93 %); WebP 75 (96 %); a
    brightness shift of +20 (99 %, less where it clips); a Gaussian blur of 0.5 px and a resize
    down by 1/8 and back (100 %). It misses a copy shifted by a pixel (98 % missed), flipped,
    rotated or cropped; often a re-encoding at quality 75 or less of a low-contrast picture (a
    few grey levels RMS: the codec's error is then of the picture's size); any copy of a
    near-flat picture (contrast under 1 level, e.g. an all-black one: found only when exact);
    and near copies between two unseen generators or between a generator and a real image (only
    exact copies are found there). The zoo's own closest pair of images of distinct generators
    correlates at 0.982, below the threshold: no false alarm there, and a margin of 1.8 in
    ``1 - correlation``. Cost: known x compared images x 64 multiply-adds, a bounded block at a
    time (4,200 x 12,000 on the zoo)."""
    known = _Pool.of(splits, KNOWN_SPLITS, drop_real_class=True)
    compared = _Pool.of(splits, names, drop_real_class=True)
    if not len(known) or not len(compared):
        return
    cols, col_contrast = _pool_thumbnails(compared)
    cols[col_contrast < NEAR_MIN_CONTRAST] = 0  # a flat thumbnail is near nothing
    # a known image against a known one: each pair once (the known pool is ``compared``'s prefix)
    prefix = len(known) if compared.names[: len(known.names)] == known.names else 0
    if prefix:
        rows = cols[:prefix]
    else:
        rows, row_contrast = _pool_thumbnails(known)
        rows[row_contrast < NEAR_MIN_CONTRAST] = 0
    col_generator = compared.generator_of
    index = {g: i for i, g in enumerate(compared.generators)}
    row_generator = torch.tensor([index.get(g, -1) for g in known.generators])[known.generator_of]
    count, best = 0, (-1.0, 0, 0)
    step = max(1, _PAIRS_AT_ONCE // len(cols))
    for start in range(0, len(rows), step):
        similarity = rows[start : start + step] @ cols.T
        r, c = (similarity >= NEAR_CORRELATION).nonzero().unbind(1)  # rare: the rest is on them only
        r = r + start
        keep = (row_generator[r] != col_generator[c]) & ((c >= prefix) | (c > r))
        r, c = r[keep], c[keep]
        count += len(r)
        if len(r):
            value, at = similarity[r - start, c].max(0)
            best = max(best, (float(value), int(r[at]), int(c[at])))
    if count:
        value, r, c = best
        raise DataError(
            f"{count} image(s) are near copies of another generator's image, e.g. {compared.where(c)} "
            f"({compared.generator(c)}, {compared.split_name(c)}) looks like {known.where(r)} "
            f"({known.generator(r)}, {known.split_name(r)}) re-encoded (8 x 8 grey thumbnails correlate "
            f"at {value:.3f} >= {NEAR_CORRELATION}); {_ESCAPE}"
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
    recorded in the run's config) lets an image be in two splits, exactly or nearly."""
    check_roles(splits)
    check_shift_apart(splits, allow_overlap)
    if not allow_overlap:
        check_disjoint_images(splits)
        check_near_duplicates(splits)
