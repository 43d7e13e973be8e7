"""The three registries the runner looks names up in: methods, data sets and protocols.

Each lives with the code it registers (``lightning_modules``, ``datamodules``,
``benchmarks.protocols``); this module only gathers them for ``modelprint list``.
"""

from __future__ import annotations

from benchmarks.protocols import PROTOCOLS
from core.registry import Registry
from datamodules import DATASETS, TRAINING_DATASETS
from lightning_modules import METHODS

REGISTRIES: tuple[Registry, ...] = (METHODS, DATASETS, TRAINING_DATASETS, PROTOCOLS)
