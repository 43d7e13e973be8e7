"""Every registered method honours the one interface (cf. scikit-learn's ``check_estimator``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import tests.fabricated
from benchmarks.protocols import PROTOCOLS
from lightning_modules import METHODS
from lightning_modules.base import AttributionMethod, Features
from lightning_modules.method_config import method_args
from tests.tiny_methods import TEST_ARGS  # the flagship loads its shipped checkpoint

SHIPPED = [n for n in METHODS.names() if METHODS.entry(n).factory.__module__.startswith("lightning_modules.")]


def features_of(method: AttributionMethod, split: str) -> Features:
    data = tests.fabricated.fabricated_split(split)
    values = method.predict_step([data.images.float() / 127.5 - 1])
    return Features(split, values, data.labels, data.generator_ids)


def fitted(name: str) -> AttributionMethod:
    method = METHODS.create(name, **method_args(name, TEST_ARGS.get(name)))
    splits = [tests.fabricated.fabricated_split(s) for s in ("known_train", "known_val")]
    assert isinstance(method.fit_extractor(*splits, seed=0), dict)
    return method


@pytest.mark.parametrize("name", SHIPPED)
def test_method_conforms(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPRINT_CACHE", str(tmp_path))
    method = fitted(name)
    assert isinstance(method, AttributionMethod)
    assert method.capabilities <= set(PROTOCOLS.names()), "every capability is a registered protocol"
    assert METHODS.entry(name).summary, "the registry summary comes from the class docstring"
    train, val, test = (features_of(method, s) for s in ("known_train", "known_val", "known_test"))
    assert train.values.ndim == 2 and len(train.values) == len(train.labels)
    assert torch.equal(train.values, features_of(method, "known_train").values), (
        "features must be deterministic"
    )
    info = method.fit_head(train, val, seed=0)
    assert isinstance(info, dict)
    logits, scores, embeddings = (
        method.logits(test.values),
        method.open_set_score(test.values),
        method.embed(test.values),
    )
    assert logits.shape == (len(test.values), len(train.generator_ids))
    assert scores.shape == (len(test.values),) and torch.isfinite(scores).all()
    assert embeddings.shape[0] == len(test.values) and torch.isfinite(embeddings).all()
    assert method.method_key() == fitted(name).method_key(), "same config and weights, same cache key"


def test_an_unfitted_head_is_a_clear_error() -> None:
    method = METHODS.create("spectral")
    with pytest.raises(RuntimeError, match="fit_head must run"):
        method.logits(torch.zeros(1, 1024))
