"""The base classes of methods whose features depend on weights their arguments do not name.

Such a method's key (the feature cache's identity) adds the weights' digest to its class and
arguments (:class:`WeightsKeyed`), so features computed with other weights are never reused.

A method trained here on the known generators' images (:class:`TrainedMethod`) follows one
sequence, written once below: the training key (hyper-parameters, data hash, seed), the run
directory (the shipped one where it matches, else the local cache), seeding, building the
untrained networks, training them or loading a finished run's weights, and the digest of the
weights it then holds. A subclass gives only what is its own: its networks (``build``), one
training run (``train_weights``), the folder of its run directories (``weights_kind``) and
what its weights are trained on (``weights_note``). A variant that only changes arguments
(an ablation) is declared by its method YAML, on top of its base's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from core.hashing import file_digest
from core.seeding import seed_all
from lightning_modules.base import AttributionMethod
from lightning_modules.real_training import CACHED_WEIGHTS, train_or_load, training_key, weights_directory


class WeightsKeyed(AttributionMethod):
    """A method whose features depend on weights loaded or trained in ``fit_extractor``: its
    key ends with their digest (``untrained`` until then)."""

    def __init__(self) -> None:
        super().__init__()
        self.weights_digest = "untrained"

    def method_key(self) -> str:
        return f"{super().method_key()}-{self.weights_digest}"


class TrainedMethod(WeightsKeyed):
    """A method trained on the known generators, whose weights are reused wherever a finished
    run with the same training key exists (shipped with the suite, or in the local cache).

    A subclass takes ``retrain`` (train afresh even where weights match) and ``hardware``
    (where it trains, see :func:`lightning_modules.real_training.hardware_args`) among its
    arguments - neither is part of the training key - and gives:

    * ``weights_kind``: the folder of its run directories (``<kind>/<training key>``);
    * ``weights_note``: what its weights are trained on (the board's weights column, to which
      ``fit_extractor`` adds where they came from); an instance may set its own in
      ``__init__`` by setting both ``training_note`` and ``weights_note``;
    * ``build(num_known, seed)``: the untrained networks, returning the module whose weights
      are cached;
    * ``train_weights(train, val, seed, directory)``: one training run of that module,
      returning its summary (recorded with the weights and with every run that uses them).
    """

    weights_kind: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        #: what the weights are trained on; ``fit_extractor`` adds where they came from
        self.training_note = self.weights_note

    def build(self, num_known: int, seed: int) -> nn.Module:
        """Untrained networks for ``num_known`` known generators; returns the module whose
        weights are trained and cached."""
        raise NotImplementedError

    def train_weights(self, train: Any, val: Any, seed: int, directory: Path) -> dict[str, Any]:
        """Train the built networks on ``train`` (``val`` for selection; ``directory`` is the
        run directory, for scratch files); returns the training summary."""
        raise NotImplementedError

    def fit_extractor(self, train: Any, val: Any, seed: int) -> dict[str, Any]:
        """Train on known-train, or load the weights of a finished run with the same training key."""
        key = training_key(self.feature_hparams(), train.data_hash, seed)
        directory, where = weights_directory(self.weights_kind, key, self.hparams.retrain)
        self.weights_note = f"{self.training_note}: {where}"
        seed_all(seed)
        weights = self.build(len(train.generator_ids), seed)
        summary = train_or_load(weights, directory, lambda: self.train_weights(train, val, seed, directory))
        self.weights_digest = file_digest(directory / CACHED_WEIGHTS)
        return {"weights": self.weights_digest, **summary}
