"""Where modelprint keeps its caches and its results store.

Both are overridable by environment variables so that sweep agents on many machines can
share one store, and CI can point everything at a scratch directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from pathlib import Path

from core.errors import ConfigError

RESULTS_ENV = "MODELPRINT_RESULTS"
CACHE_ENV = "MODELPRINT_CACHE"


def results_store_path() -> Path:
    """The SQLite results store: ``$MODELPRINT_RESULTS`` or ``./results/modelprint.sqlite``.

    Relative to the working directory, as Lightning's ``lightning_logs/``, so that the
    README's commands, run from the repository root, keep the store beside the code.
    """
    return Path(os.environ.get(RESULTS_ENV, "results/modelprint.sqlite")).expanduser()


def results_store_location() -> str | Path:
    """``$MODELPRINT_RESULTS`` as given: a database URL (``postgresql://...``) stays a string,
    anything else is the SQLite file's path (:func:`results_store_path`)."""
    value = os.environ.get(RESULTS_ENV, "")
    if value.startswith(("postgresql://", "postgres://")):
        return value
    if URL_SCHEME.match(value):  # a typo'd or foreign scheme would otherwise become a local folder
        raise ConfigError(
            f"{RESULTS_ENV}={redacted(value)}: unknown database URL scheme; a shared store is "
            "postgresql://user:password@host/db, anything else is a SQLite file's path"
        )
    return results_store_path()


#: ``scheme://`` at the start of a value: a URL, not a file path
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*):[^@/]*@", r"\1:***@", url)


def cache_dir() -> Path:
    """The feature and artifact cache: ``$MODELPRINT_CACHE`` or ``$XDG_CACHE_HOME/modelprint``."""
    if CACHE_ENV in os.environ:
        root = Path(os.environ[CACHE_ENV]).expanduser()
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "modelprint"
    blocking = next((p for p in (root, *root.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:  # the zoo's data-set cache lives there too: not only a shortcut
        raise ConfigError(f"{CACHE_ENV}={root}: {blocking} is a file, not a folder; point it at a folder")
    return root


def config_file(*parts: str) -> Path:
    """A file of the ``configs/`` tree, e.g. ``config_file("extractor", "cpu.yaml")``.

    Located through the import system (the tree is a data-only package), so it resolves the
    same in a source checkout and in an installed wheel.
    """
    spec = importlib.util.find_spec("configs")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the modelprint `configs` package is not installed")
    return Path(spec.origin).parent.joinpath(*parts)


SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def file_slug(name: str) -> str:
    """``name`` made safe as one file-name component, and still unique.

    Method, data set, split and metric names reach file names from the results store, which
    anyone may have written: a ``/`` would write elsewhere, ``<`` or quotes would be carried into
    HTML, a name of hundreds of characters would pass the file system's 255-byte limit. A simple
    name of at most 100 characters is kept as it is; any other has its unsafe runs replaced by
    ``_``, is cut short, and gets a short hash of the original appended, so two names never
    share a file.
    """
    if SAFE_NAME.fullmatch(name) and name not in (".", "..") and len(name) <= 100:
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-")[:60] or "name"
    return f"{cleaned}-{hashlib.blake2b(name.encode(), digest_size=3).hexdigest()}"
