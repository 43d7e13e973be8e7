"""Fuzzing the image decoder and the public loaders: a few hundred generated files - random bytes,
truncated and bit-flipped PNG/JPEG, decompression bombs, CMYK, 16-bit, palette, animated GIF,
float TIFF with NaN - each either decodes by the documented rule or is a BadImageError naming
the file; nothing else escapes, nothing hangs, and a bomb is refused from its header."""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.cli import main
from datamodules.public.images import MAX_PIXELS, BadImageError, read_image
from leaderboards.store import ResultsStore
from tests.test_public_datasets import genimage_fixture

RESOLUTION = 32


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR announcing ``width`` x ``height``, a few bytes of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def fuzz_cases(rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """(name, file bytes): valid images of every mode, and damaged ones of every kind."""
    pixels = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    rgb = Image.fromarray(pixels)
    good_png, good_jpeg = encoded(rgb, "PNG"), encoded(rgb, "JPEG", quality=90)
    frames = [Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)) for _ in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    floats = rng.random((40, 40)).astype(np.float32)
    with_nan = floats.copy()
    with_nan[3, 4] = np.nan
    valid: list[tuple[str, bytes]] = [
        ("rgb.png", good_png),
        ("rgb.jpg", good_jpeg),
        ("cmyk.jpg", encoded(rgb.convert("CMYK"), "JPEG")),
        ("grey16.png", encoded(Image.fromarray(rng.integers(0, 65536, (40, 40), dtype=np.uint16)), "PNG")),
        ("palette.png", encoded(rgb.convert("P"), "PNG")),
        ("palette_transparent.png", encoded(rgb.convert("P"), "PNG", transparency=0)),
        ("rgba.png", encoded(rgb.convert("RGBA"), "PNG")),
        ("animated.gif", gif.getvalue()),
        ("float.tif", encoded(Image.fromarray(floats, mode="F"), "TIFF")),
        ("int32.tif", encoded(Image.fromarray(rng.integers(0, 2**31, (40, 40), dtype=np.int32)), "TIFF")),
    ]
    bad: list[tuple[str, bytes]] = [
        ("nan.tif", encoded(Image.fromarray(with_nan, mode="F"), "TIFF")),
        ("empty.png", b""),
        ("tiny.png", encoded(rgb.resize((8, 8)), "PNG")),
        ("bomb.png", png_header_only(100_000, 100_000)),
        ("just_over_the_limit.png", png_header_only(9000, 9000)),
        ("zero.png", png_header_only(0, 0)),
    ]
    for i in range(120):
        bad.append(
            (f"random{i}.png", rng.integers(0, 256, int(rng.integers(1, 4000)), dtype=np.uint8).tobytes())
        )
    for i in range(60):
        source = good_png if i % 2 else good_jpeg
        cut = int(rng.integers(1, len(source) - 20))
        bad.append((f"truncated{i}.{'png' if i % 2 else 'jpg'}", source[:cut]))
    flipped = []
    for i in range(80):  # bit flips: some still decode (JPEG is tolerant), others are bad
        data = bytearray(good_png if i % 2 else good_jpeg)
        for position in rng.integers(0, len(data), int(rng.integers(1, 8))):
            data[position] ^= 1 << int(rng.integers(0, 8))
        flipped.append((f"flipped{i}.{'png' if i % 2 else 'jpg'}", bytes(data)))
    return valid + bad + flipped


CASES = fuzz_cases(np.random.default_rng(31))


def outcome(decode: Callable[[], np.ndarray]) -> str:
    try:
        array = decode()
    except BadImageError as error:
        return f"bad: {error}"
    assert array.shape == (3, RESOLUTION, RESOLUTION) and array.dtype == np.uint8
    return "ok"


def test_every_fuzzed_file_decodes_or_is_a_named_bad_image(tmp_path: Path) -> None:
    results = {}
    for name, data in CASES:
        path = tmp_path / name
        path.write_bytes(data)
        results[name] = outcome(lambda path=path: read_image(str(path), RESOLUTION))
        if results[name] != "ok":
            assert results[name].startswith(f"bad: {path}: "), results[name]
        from_stream = outcome(lambda data=data: read_image(io.BytesIO(data), RESOLUTION, origin=name))  # noqa: B023
        assert (from_stream == "ok") == (results[name] == "ok"), name  # a stream, one rule
        assert from_stream == "ok" or from_stream.startswith(f"bad: {name}: ")
    assert len(CASES) >= 250
    for valid in ("rgb.png", "rgb.jpg", "cmyk.jpg", "grey16.png", "palette.png", "palette_transparent.png"):
        assert results[valid] == "ok", results[valid]
    for valid in ("rgba.png", "animated.gif", "float.tif", "int32.tif"):
        assert results[valid] == "ok", results[valid]
    assert "NaN" in results["nan.tif"] and "smaller than the 32x32 crop" in results["tiny.png"]
    assert (
        "refused" in results["bomb.png"]
        and f"over the {MAX_PIXELS} pixel limit" in results["just_over_the_limit.png"]
    )
    assert all(results[f"random{i}.png"].startswith("bad") for i in range(120))
    assert all(results[f"truncated{i}.png"].startswith("bad") for i in range(1, 60, 2))


def test_a_bomb_is_refused_from_its_header_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(9000, 9000))
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("a bomb was decoded"))
    with pytest.raises(BadImageError, match="pixel limit"):
        read_image(str(path), RESOLUTION)


def test_fuzzed_files_in_a_data_set_fail_on_one_line_or_are_skipped_and_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    genimage_fixture(root)
    folder = root / "ADM" / "val" / "ai"  # the known test split
    expected_bad = 0
    for name, data in CASES:
        (folder / f"fuzz_{name}").write_bytes(data)
        expected_bad += outcome(lambda data=data: read_image(io.BytesIO(data), RESOLUTION)) != "ok"
    groups = "unseen_architecture: [VQDM], unseen_dataset: [wukong]"
    base = [
        "run",
        "--dataset=genimage",
        "--methods=[spectral]",
        "--protocols=[closed_set]",
        "--bootstrap_samples=0",
    ]
    assert main([*base, f"--dataset_args={{root: {root}, {groups}}}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{folder}/fuzz_" in err
    # bit flips that still decode often decode to the same picture: copies the leak check
    # would refuse, which is not what this test is about
    skipping = [*base, "--allow_overlap=true", f"--dataset_args={{root: {root}, skip_bad: true, {groups}}}"]
    assert main(skipping) == 0
    (run,) = ResultsStore(tmp_path / "results.sqlite").runs(method="spectral")
    details = json.loads(run["details_json"])
    assert details["skipped_images"] == {"known_test": expected_bad}
    assert len(details["skipped_files"]["known_test"]) == expected_bad
