"""Reading images of any size and mode into the suite's uint8 RGB tensors, by one documented rule.

Mode (Pillow) -> RGB:

* ``RGB``: as is; ``L`` / ``1``: grey replicated to three channels; ``CMYK`` / ``YCbCr``: Pillow's
  conversion;
* ``P`` (palette): through ``RGBA`` when the palette has transparency, else straight to ``RGB``;
* ``RGBA`` / ``LA`` / ``PA``: alpha-composited onto black (a generator's output has no
  transparency; black keeps the pixel values where alpha is 1 and adds no bright edge);
* 16-bit and 32-bit integer (``I;16*``, ``I``) and float (``F``): scaled to 8 bits by the
  type's full range (``I;16``: / 257), then grey -> RGB.

Size, per data set (``size_policy``), the same for every split so sizes are never mixed:

* ``center_crop`` (default): the central ``resolution`` x ``resolution`` pixels - no
  resampling, which would blur the high-frequency traces attribution relies on; an image
  smaller than ``resolution`` is an error naming the file;
* ``resize``: the largest central square, resized to ``resolution`` (Lanczos) - for sets whose
  images are much larger than the methods' input; traces are partly lost (documented).

A file that cannot be decoded (corrupt, truncated, not an image) raises
:class:`BadImageError` naming it - or, where the caller asked to skip bad files, is skipped
and listed (path and reason) in the split's record.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
from PIL import Image

from core.errors import ModelprintError

SIZE_POLICIES = ("center_crop", "resize")


class BadImageError(ModelprintError, ValueError):
    """An image file that cannot be used; the message names the file."""


def to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        full = 65535.0 if mode.startswith("I;16") else float(max(values.max(), 1.0))
        grey = np.clip(np.round(values / full * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    return image.convert("RGB")


def read_image(path: str | BinaryIO, resolution: int, size_policy: str = "center_crop") -> np.ndarray:
    """One file (a path, or an open binary stream) -> uint8 array 3 x resolution x resolution."""
    if size_policy not in SIZE_POLICIES:
        raise ValueError(f"unknown size_policy {size_policy!r}; valid: {SIZE_POLICIES}")
    try:
        with Image.open(path) as opened:
            opened.load()  # decode now: a truncated file fails here, not later
            image = to_rgb(opened)
    except FileNotFoundError:
        raise BadImageError(f"{path}: no such file") from None
    except Image.DecompressionBombError as error:
        raise BadImageError(f"{path}: refused, too large ({error})") from None
    except (OSError, ValueError, SyntaxError) as error:  # Pillow's corrupt/truncated/unknown format
        raise BadImageError(f"{path}: cannot decode image ({error})") from None
    width, height = image.size
    if size_policy == "center_crop":
        if width < resolution or height < resolution:
            raise BadImageError(
                f"{path}: {width}x{height} is smaller than the {resolution}x{resolution} crop"
            )
        left, top = (width - resolution) // 2, (height - resolution) // 2
        image = image.crop((left, top, left + resolution, top + resolution))
    else:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side)).resize(
            (resolution, resolution), Image.Resampling.LANCZOS
        )
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).copy()
