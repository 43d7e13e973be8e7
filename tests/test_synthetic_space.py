"""The synthetic-model architecture space: identity, coverage, validation, buildability."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from datamodules.synthetic.model import SyntheticGenerator, build_synthetic_model
from datamodules.synthetic.space import (
    EXTENDED_SPACE,
    PAPER_SPACE,
    ArchitectureSpace,
    InvalidSpaceError,
    get_space,
)


def test_paper_space_is_the_papers_288_architectures_times_20_weight_sets() -> None:
    assert PAPER_SPACE.num_architectures == 2 * 2 * 2 * 3 * 4 * 3 == 288
    assert PAPER_SPACE.weight_sets == 20
    first = {tuple(PAPER_SPACE.spec(i).as_dict()[k] for k in PAPER_SPACE.choice_names()) for i in range(288)}
    assert len(first) == 288  # any 288 consecutive ids from 0 cover every architecture once
    assert PAPER_SPACE.spec(288).architecture_index == 0 and PAPER_SPACE.spec(288).weight_set == 1


def test_model_1234_is_a_fixed_network() -> None:
    spec = PAPER_SPACE.spec(1234)
    # Literal values: a change here changes model 1234 on every machine.
    assert (spec.architecture_index, spec.weight_set) == (82, 4)
    assert (spec.blocks, spec.convs_per_block, spec.order, spec.upsampling, spec.activation, spec.norm) == (
        2,
        2,
        "pre",
        "nearest",
        "tanh",
        "none",
    )
    cal = torch.zeros(4, 3, 32, 32)
    a, b = build_synthetic_model(spec, cal), build_synthetic_model(spec, cal)
    assert all(
        torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("space", [PAPER_SPACE, EXTENDED_SPACE], ids=lambda s: s.name)
def test_every_building_block_is_reachable_from_the_sampler(space: ArchitectureSpace) -> None:
    seen: dict[str, set] = {name: set() for name in space.choice_names()}
    for model_id in range(3000):
        spec = space.spec(model_id)
        for name in space.choice_names():
            seen[name].add(getattr(spec, name))
    for name in space.choice_names():
        assert seen[name] == set(getattr(space, name)), name


def test_sampled_extended_models_build_and_keep_the_resolution() -> None:
    cal = torch.rand(4, 3, 32, 32) * 2 - 1
    for model_id in range(0, 4000, 97):
        model = build_synthetic_model(EXTENDED_SPACE.spec(model_id), cal)
        assert model(cal).shape == cal.shape, EXTENDED_SPACE.spec(model_id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"blocks": ()}, "no options for 'blocks'"),
        ({"upsampling": ()}, "no options for 'upsampling'"),
        ({"upsampling": ("lanczos",)}, "unknown upsampling"),
        ({"kernel_size": (2,)}, "kernel sizes must be odd"),
        ({"blocks": (0,)}, "must be >= 1"),
    ],
)
def test_invalid_spaces_are_clear_errors(change: dict, message: str) -> None:
    with pytest.raises(InvalidSpaceError, match=message):
        dataclasses.replace(PAPER_SPACE, **change)


def test_unreachable_resolution_is_a_clear_error() -> None:
    with pytest.raises(InvalidSpaceError, match="resolution 30 is not reachable"):
        PAPER_SPACE.check_resolution(30)
    with pytest.raises(InvalidSpaceError, match="multiple of 8"):
        EXTENDED_SPACE.check_resolution(4)
    PAPER_SPACE.check_resolution(32)


def test_unknown_space_names_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="valid: paper, extended"):
        get_space("papr")


def test_one_upsampling_spaces_restrict_only_that_choice() -> None:
    nearest = get_space("paper_nearest_only")
    assert nearest.upsampling == ("nearest",) and nearest.num_architectures == 96
    assert {nearest.spec(i).upsampling for i in range(200)} == {"nearest"}


def test_post_and_pre_order_place_norm_and_activation_as_the_paper_says() -> None:
    post = next(PAPER_SPACE.spec(i) for i in range(288) if PAPER_SPACE.spec(i).order == "post")
    pre = next(PAPER_SPACE.spec(i) for i in range(288) if PAPER_SPACE.spec(i).order == "pre")
    post_conv, pre_conv = SyntheticGenerator(post).gen[0], SyntheticGenerator(pre).gen[0]
    assert not post_conv.pre and pre_conv.pre
