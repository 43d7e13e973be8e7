"""A registered method's arguments and the method built from them, beside the registry.

A method's defaults live in ``configs/methods/<name>.yaml`` (an ablation's YAML names its base
with ``base_config`` and only what it changes); a run's overrides go on top. The runner, the
speed scripts, ``modelprint weights`` and the tests read arguments here, so none of them needs
the benchmark runner for it.
"""

from __future__ import annotations

import inspect
from typing import Any

from core.paths import config_file
from core.yaml_config import check_typed, read_yaml_mapping
from lightning_modules import METHODS
from lightning_modules.base import AttributionMethod

METHOD_CONFIG_DIR = config_file("methods")


def method_args(name: str, overrides: dict[str, Any] | None = None, retrain: bool = False) -> dict[str, Any]:
    """The method's YAML (none: no arguments) with ``overrides`` on top; ``retrain`` sets
    ``retrain: true`` for methods that take it (those shipping a checkpoint)."""
    path = METHOD_CONFIG_DIR / f"{name}.yaml"
    args = {**(read_yaml_mapping(path) if path.exists() else {}), **(overrides or {})}
    if retrain and "retrain" in inspect.signature(METHODS.entry(name).factory).parameters:
        args["retrain"] = True
    return args


def check_method_args(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """``args`` checked against the method's typed constructor (ConfigError naming the key)."""
    return check_typed(
        METHODS.entry(name).factory, args, f"method {name!r} (configs/methods/{name}.yaml and --method_args)"
    )


def build_method(
    name: str, overrides: dict[str, Any] | None = None, retrain: bool = False
) -> AttributionMethod:
    """The registered method ``name`` built from its YAML and ``overrides``."""
    return METHODS.create(name, **method_args(name, overrides, retrain))
