"""DRCT-2M (Chen et al., ICML 2024, "DRCT: Diffusion Reconstruction Contrastive Training"):
16 Stable-Diffusion-family generators prompted with MSCOCO captions, beside MSCOCO itself.

The layout its public loader (beibuwandeluori/DRCT, ``data/dataset.py``, ``load_DRCT_2M``)
reads: generated images under ``root/<generator>/{train2017,val2017}/``, real ones under a
separate MSCOCO folder ``real_root/{train2017,val2017}/``; ``train2017`` is split 9:1 into
training and validation, ``val2017`` is the test set. The generator names are its
``CLASS2LABEL_MAPPING`` keys (``ldm-text2im-large-256`` ... ``stable-diffusion-xl-1.0-inpainting-
0.1``), where ``real`` is class 0: with ``real_root`` the MSCOCO images are a known class.

DRCT-2M defines no unseen groups; its families (text-to-image, turbo / LCM distilled,
ControlNet, inpainting) are named here as :data:`FAMILIES` for a user who groups them, e.g.
``unseen_architecture: [sd-controlnet-canny, sd21-controlnet-canny, controlnet-canny-sdxl-1.0]``.
The suite's train/val cut is by name (``val_fraction``), not DRCT's seeded shuffle.

    modelprint run --dataset=drct --dataset_args='{root: /data/DRCT-2M, real_root: /data/MSCOCO}'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import DataError
from datamodules import register_dataset
from datamodules.peers.folders import PeerFolders, images_in

FAMILIES = {
    "text-to-image": (
        "ldm-text2im-large-256",
        "stable-diffusion-v1-4",
        "stable-diffusion-v1-5",
        "stable-diffusion-2-1",
        "stable-diffusion-xl-base-1.0",
        "stable-diffusion-xl-refiner-1.0",
    ),
    "distilled": ("sd-turbo", "sdxl-turbo", "lcm-lora-sdv1-5", "lcm-lora-sdxl"),
    "controlnet": ("sd-controlnet-canny", "sd21-controlnet-canny", "controlnet-canny-sdxl-1.0"),
    "inpainting": (
        "stable-diffusion-inpainting",
        "stable-diffusion-2-inpainting",
        "stable-diffusion-xl-1.0-inpainting-0.1",
    ),
}
GENERATORS = tuple(g for family in FAMILIES.values() for g in family)
REAL = "real"
#: the suite's part -> DRCT's folder
PARTS = {"train": "train2017", "test": "val2017"}


@register_dataset("drct")
class DRCTDataModule(PeerFolders):
    """DRCT-2M's folders; see the module docstring.

    Args:
        root: the folder of generator folders (DRCT's ``fake_root_path``).
        real_root: the MSCOCO folder with ``train2017`` / ``val2017`` (DRCT's
            ``real_root_path``): the real class, known unless ``include_real: false``.
        (and the :class:`PeerFolders` arguments: generators, known, unseen groups, val_fraction)
    """

    peer = "DRCT-2M"
    peer_generators = GENERATORS
    expected = "<root>/<generator>/{train2017,val2017}/*.png, real images in <real_root>/{train2017,val2017}/"

    def __init__(
        self,
        root: str | Path,
        real_root: str | Path | None = None,
        include_real: bool | None = None,
        **kwargs: Any,
    ) -> None:
        self.real_root = None if real_root is None else Path(real_root)
        if self.real_root is not None and not self.real_root.is_dir():
            raise DataError(f"{real_root}: no such folder (expected MSCOCO's train2017/ and val2017/)")
        include_real = self.real_root is not None if include_real is None else include_real
        real = [REAL] if self.real_root is not None else None
        super().__init__(root, real=real, include_real=include_real, **kwargs)

    def part_files(self, generator: str, part: str) -> list[Path]:
        base = self.real_root if generator == REAL else self.root / generator
        assert base is not None  # ``real`` is read only when real_root was given
        folder = base / PARTS[part]
        if not folder.is_dir():
            raise DataError(f"{folder}: no such folder (expected {self.expected})")
        files = images_in(folder)
        if not files:
            raise DataError(f"{folder}: no images (expected {self.expected})")
        return files

    def unseen_files(self, generator: str) -> list[Path]:
        """An unseen generator is tested on DRCT's test part, as a known one is."""
        return self.part_files(generator, "test")
