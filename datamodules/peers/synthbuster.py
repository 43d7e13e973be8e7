"""Synthbuster (Bammey, IEEE OJSP 2023): nine text-to-image generators prompted to re-create
the RAISE-1k photographs, one folder of PNGs per generator - the ``imagefolder`` layout.

Facts from AI-GenBench's Synthbuster reader (``generator_builders/synthbuster/``, which reads
the released archive): ``root/<folder>/*.png`` with the folders ``dalle2``, ``dalle3``,
``firefly``, ``glide``, ``midjourney-v5``, ``stable-diffusion-1-3``, ``stable-diffusion-1-4``,
``stable-diffusion-2``, ``stable-diffusion-xl`` (it names them "DALL-E 2" ... "Stable
Diffusion XL 1.0"), and ``root/prompts.csv``, whose image names match RAISE-1k's. The real
class, RAISE-1k, is not in the archive: put its images in a folder under ``root`` and name it
(``real: [raise-1k]``; a folder ``raise-1k`` or ``RAISE`` is taken by default).

Synthbuster is a test set with no partition and no unseen groups of its own: as with
``imagefolder``, every generator is unseen unless named ``known`` (zero shot and open set
read it against the reference data set's known generators).

    modelprint run --protocols=[zero_shot] --dataset=synthbuster --dataset_args='{path: /data/synthbuster}'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import DataError
from datamodules import register_dataset
from datamodules.public.imagefolder import ImageFolderDataModule

#: folder -> the generator's name in AI-GenBench's reader
GENERATORS = {
    "dalle2": "DALL-E 2",
    "dalle3": "DALL-E 3",
    "firefly": "Firefly",
    "glide": "Glide",
    "midjourney-v5": "Midjourney 5",
    "stable-diffusion-1-3": "Stable Diffusion 1.3",
    "stable-diffusion-1-4": "Stable Diffusion 1.4",
    "stable-diffusion-2": "Stable Diffusion 2",
    "stable-diffusion-xl": "Stable Diffusion XL 1.0",
}
#: folder names taken as RAISE-1k (the real class) when ``real`` is not given
REAL_FOLDERS = ("raise-1k", "RAISE-1k", "raise", "RAISE")


@register_dataset("synthbuster")
class SynthbusterDataModule(ImageFolderDataModule):
    """Synthbuster's folders as an ``imagefolder``; see the module docstring.

    Args:
        path: the extracted archive (one folder per generator, ``prompts.csv``).
        (and the ``imagefolder`` arguments: known, unseen groups, val_fraction, real, include_real)
    """

    def __init__(self, path: str | Path, real: list[str] | None = None, **kwargs: Any) -> None:
        folder = Path(path)
        present = [g for g in GENERATORS if (folder / g).is_dir()]
        if folder.is_dir() and not present:
            raise DataError(
                f"{path}: not the Synthbuster layout: none of its generator folders {list(GENERATORS)} "
                "is there (expected <path>/<generator>/*.png)"
            )
        if real is None:
            real = [name for name in REAL_FOLDERS if (folder / name).is_dir()][:1] or None
        super().__init__(path, real=real, **kwargs)
