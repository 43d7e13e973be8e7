"""Seeding: the same seed gives identical tensors; derived seeds are stable across machines."""

from __future__ import annotations

import torch

from core.seeding import derive_seed, generator_for, seed_all


def draw() -> torch.Tensor:
    layer = torch.nn.Conv2d(3, 4, 3)
    return torch.cat([layer.weight.flatten(), torch.randn(10)])


def test_same_seed_gives_identical_tensors() -> None:
    seed_all(123)
    first = draw()
    seed_all(123)
    second = draw()
    seed_all(124)
    third = draw()
    assert torch.equal(first, second)
    assert not torch.equal(first, third)


def test_derived_seed_is_a_fixed_function_of_its_keys() -> None:
    # A literal value: a change here would silently change every synthetic model.
    assert derive_seed(1234, 0) == derive_seed(1234, 0) == 7121102261866299030
    assert derive_seed(1234, 1) != derive_seed(1234, 0)
    assert 0 <= derive_seed("x") < 2**63


def test_generator_for_does_not_depend_on_global_state() -> None:
    torch.manual_seed(0)
    a = torch.rand(5, generator=generator_for(7, "weights"))
    torch.manual_seed(99)
    torch.rand(100)
    b = torch.rand(5, generator=generator_for(7, "weights"))
    assert torch.equal(a, b)
