"""Attribution as a tool: a reference gallery of generators, and "which of them made this image?".

The benchmark measures how well a method attributes images; this package lets anyone *use* a
method on their own images. A :class:`Gallery` embeds a folder of reference generators
(``DIR/<generator>/*``, the ``imagefolder`` layout) with a registered method's trained weights,
keeps per-generator prototypes (the zero-shot protocol's nearest-centroid rule), and calibrates
an "unknown" threshold by leaving one generator out at a time. ``Gallery.attribute`` then ranks
the gallery's generators for each image, or answers ``unknown``.

Example (a gallery of the noise-residual method over two folders of references)::

    gallery = Gallery.build("refs/", method="noise_residual", min_references=5)
    gallery.save("refs.gallery")
    for result in Gallery.load("refs.gallery").attribute(["query.png"]):
        print(result.path, result.decision, result.candidates[0])
"""

from __future__ import annotations

from benchmarks.attribution.gallery import Attribution, Calibration, Gallery

__all__ = ["Attribution", "Calibration", "Gallery"]
