"""Reading images of any size and mode into the suite's uint8 RGB tensors, by one documented rule.

Mode (Pillow) -> RGB:

* ``RGB``: as is; ``L`` / ``1``: grey replicated to three channels; ``CMYK`` / ``YCbCr``: Pillow's
  conversion;
* ``P`` (palette): through ``RGBA`` when the palette has transparency, else straight to ``RGB``;
* ``RGBA`` / ``LA`` / ``PA``: alpha-composited onto black (a generator's output has no
  transparency; black keeps the pixel values where alpha is 1 and adds no bright edge);
* integer grey (``I;16*``, ``I``): scaled to 8 bits by the full range of the sample type the
  file declares - 16 bits (``I;16*``, and the ``I`` images of PNG/PGM/PPM, whose samples are at
  most 16 bits: / 65535 * 255), a TIFF's ``BitsPerSample`` otherwise (32-bit unsigned:
  / (2^32 - 1); signed: / (2^31 - 1), negatives clipped to 0) - never by the image's own
  maximum, which would make a constant image white;
* float grey (``F``): the float-image convention, [0, 1] -> [0, 255], clipped; a NaN or
  infinite sample makes the image bad (it carries no value to decode).

Size, per data set (``size_policy``), the same for every split so sizes are never mixed:

* ``center_crop`` (default): the central ``resolution`` x ``resolution`` pixels - no
  resampling, which would blur the high-frequency traces attribution relies on; an image
  smaller than ``resolution`` is an error naming the file;
* ``resize``: the largest central square, resized to ``resolution`` (Lanczos) - for sets whose
  images are much larger than the methods' input; traces are partly lost (documented).

Only regular files are read: a FIFO, socket or device under an image name is a bad file (opening
a FIFO would block the loader forever). A file that cannot be decoded (corrupt, truncated, not
an image), or whose header announces more than ``MAX_PIXELS`` pixels (a decompression bomb),
raises
:class:`BadImageError` naming it - or, where the caller asked to skip bad files, is skipped
and listed (path and reason) in the split's record.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

import numpy as np
from PIL import Image

from core.errors import ConfigError, ModelprintError

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
        if mode == "F" and not np.isfinite(values).all():
            raise BadImageError("float image with NaN or infinite samples")
        grey = np.clip(np.round(values / full_range(image) * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    return image.convert("RGB")


#: TIFF tags: bits per sample, and sample format (1 unsigned, 2 signed, 3 float)
BITS_PER_SAMPLE, SAMPLE_FORMAT = 258, 339


def full_range(image: Image.Image) -> float:
    """The value that maps to 255 for a grey image of integer or float samples (see the module
    docstring): the sample type's maximum, 1.0 for floats."""
    if image.mode == "F":
        return 1.0
    if image.mode.startswith("I;16") or image.format in ("PNG", "PPM"):
        return 65535.0
    tags = getattr(image, "tag_v2", {})

    def tag(number: int, default: int) -> int:  # a TIFF tag's first value (TIFF's own default)
        value = tags.get(number, default)
        return int(value[0] if isinstance(value, tuple) else value)

    bits, signed = tag(BITS_PER_SAMPLE, 32), tag(SAMPLE_FORMAT, 1) == 2
    return float(2 ** (bits - 1) - 1 if signed else 2**bits - 1)


def require_regular_file(path: str, name: str | None = None) -> None:
    """A path that is not a regular file (a FIFO, socket, device or folder) is a bad image."""
    name = name or path
    try:
        kind = os.stat(path).st_mode
    except FileNotFoundError:
        raise BadImageError(f"{name}: no such file") from None
    except OSError as error:  # a symbolic link loop, a permission
        raise BadImageError(f"{name}: cannot open ({error.strerror or error})") from None
    if not stat.S_ISREG(kind):
        raise BadImageError(f"{name}: not a regular file (a FIFO, socket, device or folder)")


#: the largest image decoded (pixels); a header announcing more is refused before decoding, so a
#: small file claiming huge dimensions (a decompression bomb) costs nothing. 8192 x 8192 covers
#: every generator output in the public attribution sets.
MAX_PIXELS = 8192 * 8192


def check_dimensions(size: tuple[int, int], name: str) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise BadImageError(f"{name}: empty image ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise BadImageError(
            f"{name}: refused, {width}x{height} is over the {MAX_PIXELS} pixel limit (a decompression bomb?)"
        )


def read_image(
    path: str | BinaryIO, resolution: int, size_policy: str = "center_crop", origin: str | None = None
) -> np.ndarray:
    """One file (a path, or an open binary stream) -> uint8 array 3 x resolution x resolution.

    ``origin`` is how errors name the image (``file:line`` of an annotation, a parquet row);
    by default the path itself."""
    if size_policy not in SIZE_POLICIES:
        raise ConfigError(f"unknown size_policy {size_policy!r}; valid: {SIZE_POLICIES}")
    if isinstance(path, str | os.PathLike):
        require_regular_file(str(path), name=origin)
    name = origin or (str(path) if isinstance(path, str | os.PathLike) else "image stream")
    try:
        with Image.open(path) as opened:
            check_dimensions(opened.size, name)  # from the header, before a byte is decoded
            opened.load()  # decode now: a truncated file fails here, not later
            image = to_rgb(opened)
    except FileNotFoundError:
        raise BadImageError(f"{name}: no such file") from None
    except Image.DecompressionBombError as error:
        raise BadImageError(f"{name}: refused, too large ({error})") from None
    except BadImageError as error:
        raise BadImageError(f"{name}: {error}") from None
    except (OSError, ValueError, SyntaxError) as error:  # Pillow's corrupt/truncated/unknown format
        raise BadImageError(f"{name}: cannot decode image ({error})") from None
    width, height = image.size
    if size_policy == "center_crop":
        if width < resolution or height < resolution:
            raise BadImageError(
                f"{name}: {width}x{height} is smaller than the {resolution}x{resolution} crop"
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
