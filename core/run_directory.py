"""Loading a trained network from a run directory (``config.yaml`` + safetensors weights).

Every trained artifact the suite ships or caches (the flagship's extractor, the learned
denoiser) is a directory with its config, its weights as safetensors (loading never
unpickles) and a ``summary.json`` carrying the weights' SHA-256. One loader checks all of it,
so a missing, damaged or foreign file is one clear error whichever network it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import nn

from core.errors import ModelprintError
from core.hashing import check_weights_digest


class MissingRunError(ModelprintError, FileNotFoundError):
    """A run directory without its config or weights."""


class InvalidWeightsError(ModelprintError, ValueError):
    """Weights that do not fit the network their config describes."""


def load_run(
    directory: str | Path, weights_file: str, build: Callable[[Path], nn.Module], what: str, hint: str
) -> nn.Module:
    """The network ``build(config path)`` makes, with the directory's weights, in eval mode.

    ``what`` names the artifact in errors ("extractor"), ``hint`` says how to make one.
    """
    from safetensors.torch import load_file

    directory = Path(directory)
    for name in ("config.yaml", weights_file):
        if not (directory / name).is_file():
            raise MissingRunError(f"no trained {what} in {directory}: {name} is missing ({hint})")
    check_weights_digest(directory, weights_file)
    net = build(directory / "config.yaml")
    try:
        net.load_state_dict(load_file(str(directory / weights_file)))
    except Exception as error:  # a truncated or foreign file: say which file, not a deep traceback
        raise InvalidWeightsError(
            f"{directory / weights_file} is not a valid {what} checkpoint: {' '.join(str(error).split())}"
        ) from None
    return net.eval()
