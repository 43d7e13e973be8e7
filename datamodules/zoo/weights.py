"""A zoo generator's trained weights, kept beside its images in the build's work folder.

The artifact ships images, not networks (a DDPM and a PixelCNN would add megabytes each and no
method reads them). The work folder keeps them so that a generator can be sampled again, at
another precision or seed, or looked into, without retraining it: a PixelCNN costs half an
hour of a core to train, a DDPM on photo patches more. The file holds plain tensors and the
constructor settings only, and is read with ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from datamodules.zoo.families import ZooGenerator, create_zoo_generator

WEIGHTS_FILE = "weights.pt"


def save_weights(model: ZooGenerator, path: Path) -> None:
    """Write ``model``'s family, constructor settings and state dict to ``path``."""
    torch.save(
        {
            "family": model.family,
            "hyper_parameters": dict(model.hparams),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        },
        path,
    )


def load_trained_generator(folder: str | Path) -> ZooGenerator:
    """The generator a build trained into ``folder`` (``<work>/<generator id>``), in eval mode.

    Raises ``FileNotFoundError`` naming the folder when it holds no weights: a generator copied
    from a shipped artifact (``--reuse``) or built before weights were kept has images only."""
    path = Path(folder) / WEIGHTS_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: this generator's weights were not kept (reused from an "
            "artifact, or built before builds kept them); rebuild it into a fresh --work"
        )
    saved: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    model = create_zoo_generator(saved["family"], **saved["hyper_parameters"])
    model.load_state_dict(saved["state_dict"])
    return model.eval()
