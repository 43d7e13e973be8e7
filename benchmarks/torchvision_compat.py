"""Make ``import torchvision`` (and so ``import timm``) work against a CPU-only torch.

The only torchvision wheel on the registry for torch 2.13 is a CUDA build; its C extension
cannot load against the CPU torch, and torchvision then fails at import with
``RuntimeError: operator torchvision::nms does not exist`` because its fake-tensor
registrations refer to ops that were never defined. Defining the two op schemas (``nms``
and ``qnms``) before torchvision is imported is enough for timm, which never calls them.

The fix is applied only where the extension really fails to load: on a machine where
torchvision's ``_C`` loads (a CUDA machine with a matching build), nothing is defined and
torchvision is used as shipped. The install writes a ``.pth`` file that calls
:func:`install_import_hook`, so the check runs lazily on the first ``import torchvision`` of
any interpreter in the environment; modelprint's own code also calls
:func:`ensure_torchvision_ops` before it imports timm.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path
from typing import Any, Literal

FixState = Literal["unchecked", "not needed", "active", "torchvision not installed"]

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_state: FixState = "unchecked"
_library: Any = None  # the torch.library.Library must stay alive, or its schemas vanish


def fix_state() -> FixState:
    """Whether the schemas were defined here (``"active"``) or were not needed."""
    return _state


def _extension_path() -> Path | None:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return None
    candidates = sorted(Path(spec.origin).parent.glob("_C.*"))
    return candidates[0] if candidates else Path(spec.origin).parent / "_C.so"


def ensure_torchvision_ops() -> FixState:
    """Define torchvision's op schemas if, and only if, its C extension cannot load."""
    global _state, _library
    if _state != "unchecked":
        return _state
    # The lookups below must not re-enter the import hook that may have called us.
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TorchvisionFinder)]
    if importlib.util.find_spec("torchvision") is None:
        _state = "torchvision not installed"
        return _state
    import torch

    try:
        torch.ops.load_library(str(_extension_path()))
        _state = "not needed"
    except (OSError, RuntimeError):
        _library = torch.library.Library("torchvision", "DEF")
        for schema in _SCHEMAS:
            _library.define(schema)
        _state = "active"
    return _state


class _TorchvisionFinder(importlib.abc.MetaPathFinder):
    """Runs :func:`ensure_torchvision_ops` the first time torchvision is imported."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == "torchvision":
            ensure_torchvision_ops()
        return None  # let the regular finders import torchvision itself


def install_import_hook() -> None:
    """Arrange for the check to run lazily at the first ``import torchvision``."""
    if "torchvision" in sys.modules or any(isinstance(f, _TorchvisionFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _TorchvisionFinder())
