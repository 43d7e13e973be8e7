"""Seeding and determinism.

Every stochastic step of the suite (weight init, data order, synthetic-model sampling,
bootstrap resampling, episode sampling) takes its randomness from a seed, so that a figure in
the results store can be reproduced from the run's recorded seed and config.
"""

from __future__ import annotations

import hashlib

import torch
from lightning.pytorch import seed_everything


def seed_all(seed: int, *, deterministic: bool = True) -> int:
    """Seed Python, NumPy and torch (and DataLoader workers) via Lightning's ``seed_everything``.

    With ``deterministic`` set, torch is asked for deterministic algorithms where they exist
    (``warn_only``, so an op without a deterministic kernel warns instead of failing).
    Seeds beyond NumPy's 32-bit range (e.g. from :func:`derive_seed`) are folded into it.
    """
    seed = seed % 2**32
    seed_everything(seed, workers=True, verbose=False)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = not deterministic
    return seed


def derive_seed(*keys: int | str) -> int:
    """A 63-bit seed derived from a tuple of keys, e.g. ``(model_id, image_index)``.

    Uses a cryptographic hash rather than arithmetic on the keys so that neighbouring ids
    give unrelated streams, and the value is identical on every machine and Python version.
    """
    digest = hashlib.blake2b(repr(tuple(keys)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def generator_for(*keys: int | str) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded by :func:`derive_seed`; independent of global state."""
    gen = torch.Generator()
    gen.manual_seed(derive_seed(*keys))
    return gen
