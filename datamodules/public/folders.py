"""What a folder layout lists: generator folders and image files as a user sees them.

Hidden entries (``.ipynb_checkpoints``, macOS's ``._name.png`` and ``.DS_Store``) are not
generators or images: a notebook's checkpoint folder counted as a generator with copies of
another's images. Names are compared in Unicode NFC: macOS writes ``café`` decomposed (NFD)
while a name typed in a config is composed, so the same name was "not found" while the message
listed it; each generator is known by its NFC name and read from its folder's own spelling.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path

from core.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def nfc(name: object) -> str:
    """A name as the suite compares it: text, Unicode-composed."""
    return unicodedata.normalize("NFC", str(name))


def nfc_names(names: Iterable[object] | None) -> list[str] | None:
    """User-given names (a config's ``known``, groups, ``real``) in the form folders are matched in."""
    return None if names is None else [nfc(name) for name in names]


def visible(path: Path) -> bool:
    return not path.name.startswith(".")


def generator_folders(folder: Path) -> dict[str, str]:
    """The generator folders of ``folder``, NFC name -> the name on disk, sorted by NFC name;
    hidden folders left out."""
    try:
        found = {nfc(p.name): p.name for p in folder.iterdir() if visible(p) and p.is_dir()}
    except OSError as error:
        raise DataError(f"{folder}: cannot list this folder ({error.strerror or error})") from None
    return dict(sorted(found.items()))


def image_files(folder: Path) -> list[Path]:
    """The image files of one generator's folder by name (hidden files left out)."""
    try:
        return sorted(p for p in folder.iterdir() if visible(p) and p.suffix.lower() in IMAGE_SUFFIXES)
    except OSError as error:
        raise DataError(f"{folder}: cannot list this folder ({error.strerror or error})") from None


def require_named(where: str | Path, named: Iterable[str], folders: Iterable[str]) -> None:
    """Every generator a config names has a folder, or one line naming the missing and the found."""
    found = list(folders)
    missing = sorted(set(named) - set(found))
    if missing:
        raise DataError(f"{where}: no generator folder for {missing}; found {found}")
