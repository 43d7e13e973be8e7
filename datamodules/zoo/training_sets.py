"""Training data sets for the zoo, made only from images that ship with installed packages.

No network is needed: the sources are scikit-learn's digits and sample photos,
scikit-image's ``data`` photos and its LFW face subset, matplotlib's sample photo, and a
procedural generator. Distinct training sets let the zoo hold the same architecture trained
on different data, so that an unseen generator can differ from the known ones by its data
set alone (POSE's OSMA split "unseen data set").

Every set is a ``uint8`` tensor ``(N, 3, R, R)`` built deterministically from a seed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

TrainingSetBuilder = Callable[[int, int], torch.Tensor]
TRAINING_SETS: dict[str, TrainingSetBuilder] = {}
# Bumped when a set's content changes: caches keyed by the sets they used (trained extractors)
# are then not taken for the new content. The zoo checks the content itself (a hash).
TRAINING_SET_REVISIONS: dict[str, int] = {}


def training_set(name: str, revision: int = 1) -> Callable[[TrainingSetBuilder], TrainingSetBuilder]:
    def register(builder: TrainingSetBuilder) -> TrainingSetBuilder:
        TRAINING_SETS[name], TRAINING_SET_REVISIONS[name] = builder, revision
        return builder

    return register


def build_training_set(name: str, resolution: int = 32) -> torch.Tensor:
    """The named training set at ``resolution`` (uint8, N x 3 x R x R)."""
    if name not in TRAINING_SETS:
        raise KeyError(f"unknown training set {name!r}; valid: {', '.join(sorted(TRAINING_SETS))}")
    images = TRAINING_SETS[name](resolution, 0)
    assert images.dtype == torch.uint8 and images.shape[1:] == (3, resolution, resolution)
    return images


def load_training_sets(
    names: set[str] | list[str], resolution: int = 32, prebuilt: str | Path | None = None
) -> dict[str, torch.Tensor]:
    """The named training sets, built here, or read from ``prebuilt`` (an ``.npz`` written by
    ``save_training_sets`` on a machine whose packages are the reference)."""
    if prebuilt is None:
        return {name: build_training_set(name, resolution) for name in sorted(names)}
    with np.load(prebuilt) as arrays:
        missing = set(names) - set(arrays.files)
        if missing:
            raise KeyError(f"{prebuilt}: no training set(s) {sorted(missing)}; it has {sorted(arrays.files)}")
        sets = {name: torch.from_numpy(arrays[name]) for name in sorted(names)}
    for name, images in sets.items():
        if images.dtype != torch.uint8 or images.shape[1:] != (3, resolution, resolution):
            raise ValueError(
                f"{prebuilt}: training set {name!r} is {tuple(images.shape)} {images.dtype}, "
                f"expected N x 3 x {resolution} x {resolution} uint8"
            )
    return sets


def save_training_sets(names: list[str], resolution: int, out: str | Path) -> None:
    """Write the named training sets to one ``.npz`` (for ``modelprint zoo build --training_sets``)."""
    np.savez_compressed(out, **{name: build_training_set(name, resolution).numpy() for name in names})


def _resize(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """float N x C x H x W in [0, 1] -> uint8 N x 3 x R x R (grey images are replicated)."""
    out = F.interpolate(
        images, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False
    )
    if out.shape[1] == 1:
        out = out.expand(-1, 3, -1, -1)
    return (out.clamp(0, 1) * 255).round().to(torch.uint8).contiguous()


@training_set("digits")
def digits(resolution: int, seed: int) -> torch.Tensor:
    """scikit-learn's 1,797 hand-written digits (8x8, 17 grey levels), upscaled."""
    from sklearn.datasets import load_digits

    images = torch.from_numpy(load_digits().images).float().unsqueeze(1) / 16.0
    return _resize(images, resolution)


LFW_FACES = 100  # scikit-image's lfw_subset: 100 faces, then 100 non-face patches


@training_set("faces", revision=2)  # 2: the non-faces are left out
def faces(resolution: int, seed: int, crops_per_face: int = 3) -> torch.Tensor:
    """The 100 faces of scikit-image's LFW subset (25x25 grey; its other 100 images are
    non-faces and are left out), each whole and as ``crops_per_face`` random crops of 20-24 px
    around the face (400 images by default). The zoo's trainer adds the mirror images."""
    from skimage.data import lfw_subset

    rng = np.random.default_rng(seed)
    source = torch.from_numpy(lfw_subset()[:LFW_FACES]).float().unsqueeze(1)
    side = source.shape[-1]
    images = [_resize(source, resolution)]
    for _ in range(crops_per_face):
        crops = []
        for face in source:
            size = int(rng.integers(20, side))
            y, x = (int(v) for v in rng.integers(0, side - size + 1, size=2))
            crops.append(_resize(face[None, :, y : y + size, x : x + size], resolution)[0])
        images.append(torch.stack(crops))
    return torch.cat(images)


_PHOTO_SOURCES = (
    "astronaut",
    "chelsea",
    "coffee",
    "hubble_deep_field",
    "immunohistochemistry",
    "rocket",
    "retina",
    "colorwheel",
)


def _photos() -> list[np.ndarray]:
    import matplotlib
    import skimage.data
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = [getattr(skimage.data, name)() for name in _PHOTO_SOURCES]
    photos += list(load_sample_images().images)
    with Image.open(f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg") as img:
        photos.append(np.asarray(img.convert("RGB")))
    return photos


@training_set("photos")
def photos(resolution: int, seed: int, count: int = 4000) -> torch.Tensor:
    """Random square crops (48-192 px, resized) of the colour photos that ship with packages."""
    rng = np.random.default_rng(seed)
    sources = _photos()
    crops = []
    for _ in range(count):
        photo = sources[rng.integers(len(sources))]
        h, w = photo.shape[:2]
        size = int(rng.integers(48, min(192, h, w) + 1))
        y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        crop = torch.from_numpy(np.ascontiguousarray(photo[y : y + size, x : x + size, :3])).permute(2, 0, 1)
        crops.append(_resize(crop.float().unsqueeze(0) / 255.0, resolution)[0])
    return torch.stack(crops)


@training_set("shapes")
def shapes(resolution: int, seed: int, count: int = 4000) -> torch.Tensor:
    """Procedural scenes: one to three coloured discs and boxes over a linear colour gradient."""
    gen = torch.Generator().manual_seed(seed)
    grid = torch.linspace(0, 1, resolution)
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    out = torch.empty(count, 3, resolution, resolution)
    for i in range(count):
        c0, c1 = torch.rand(3, 1, 1, generator=gen), torch.rand(3, 1, 1, generator=gen)
        angle = torch.rand(1, generator=gen) * 2 * torch.pi
        t = (xx * torch.cos(angle) + yy * torch.sin(angle)).clamp(0, 1)
        img = c0 * (1 - t) + c1 * t
        for _ in range(int(torch.randint(1, 4, (1,), generator=gen))):
            cx, cy, r = (
                torch.rand(3, generator=gen) * torch.tensor([1.0, 1.0, 0.3]) + torch.tensor([0, 0, 0.1])
            ).tolist()
            color = torch.rand(3, 1, 1, generator=gen)
            if torch.rand(1, generator=gen) < 0.5:
                mask = ((xx - cx) ** 2 + (yy - cy) ** 2) < r**2
            else:
                mask = ((xx - cx).abs() < r) & ((yy - cy).abs() < r * 0.7)
            img = torch.where(mask, color, img)
        out[i] = img
    return _resize(out, resolution)
