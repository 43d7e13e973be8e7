"""``modelprint gallery build|add|show``: a reference gallery of generators for ``modelprint attribute``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.cli import UsageError, command


def _required(value: str | None, flag: str, example: str) -> str:
    if not value:
        raise UsageError(f"{flag} is required, e.g. {flag}={example}")
    return value


@command("gallery build")
def gallery_build(
    references: str | None = None,
    method: str = "synthetic_fingerprint",
    out: str | None = None,
    method_args: dict[str, Any] | None = None,
    seed: int = 0,
    reference: str = "zoo",
    reference_args: dict[str, Any] | None = None,
    resolution: int = 32,
    size_policy: str = "center_crop",
    crops: int = 1,
    far: float = 0.05,
    min_references: int = 5,
    batch_size: int = 64,
) -> int:
    """Embed a folder of reference generators (``DIR/<generator>/*``) with a method's trained
    weights and write one gallery file: prototypes, embeddings, counts, the method and its
    weights digest, the preprocessing and the calibrated "unknown" threshold. An existing
    ``--out`` of the same weights is reused: only new images are embedded.

    Args:
        references: the folder of generator folders (the ``imagefolder`` layout).
        method: the registered method (default: the flagship).
        out: the gallery file (default: ``<references folder>.gallery.safetensors``).
        method_args: overrides of the method's YAML arguments.
        seed: the seed the method is fitted with.
        reference: the data set whose known splits fit a method that fits on them (the zoo).
        reference_args: its arguments.
        resolution: the side of the square the images are read at (as the data loaders).
        size_policy: ``center_crop`` (no resampling) or ``resize``.
        crops: test-time windows of the method's input size, averaged (1, 4, 9, ...).
        far: the false-accept rate "unknown" is calibrated at.
        min_references: the fewest images a generator may have.
        batch_size: images per batch.
    """
    from benchmarks.attribution import Gallery
    from benchmarks.attribution.embedding import Preprocessing

    folder = _required(references, "--references", "DIR")
    target = Path(out or f"{Path(folder).resolve().name}.gallery.safetensors")
    cache = Gallery.load(target) if target.is_file() else None
    gallery = Gallery.build(
        folder,
        method=method,
        method_args=method_args,
        seed=seed,
        reference=reference,
        reference_args=reference_args,
        preprocessing=Preprocessing(resolution, size_policy, crops),
        far=far,
        min_references=min_references,
        batch_size=batch_size,
        cache=cache,
    )
    gallery.save(target)
    print(gallery.describe())
    print(f"written: {target}")
    return 0


@command("gallery add")
def gallery_add(
    gallery: str | None = None, references: str | None = None, out: str | None = None, batch_size: int = 64
) -> int:
    """Add a folder of references (new generators, or more images of the gallery's) to a
    gallery; only images not in it yet are embedded, and "unknown" is calibrated again.

    Args:
        gallery: the gallery file.
        references: the folder of generator folders to add.
        out: where the extended gallery goes (default: over ``--gallery``).
        batch_size: images per batch.
    """
    from benchmarks.attribution import Gallery

    source = _required(gallery, "--gallery", "FILE")
    extended = Gallery.load(source).add(_required(references, "--references", "DIR"), batch_size)
    target = extended.save(out or source)
    print(extended.describe())
    print(f"written: {target}")
    return 0


@command("gallery show")
def gallery_show(gallery: str) -> int:
    """Print what a gallery holds: method and weights digest, preprocessing, generators with
    their reference counts, and the calibrated threshold with its estimate.

    Args:
        gallery: the gallery file.
    """
    from benchmarks.attribution import Gallery

    print(Gallery.load(gallery).describe())
    return 0
