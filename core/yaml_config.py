"""YAML files that fill a dataclass: an unknown key is an error naming the valid ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_dataclass_yaml(cls: type, path: str | Path) -> dict[str, Any]:
    """The YAML mapping at ``path``, checked against ``cls``'s fields (ValueError on unknown keys)."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    unknown = set(raw) - set(cls.__dataclass_fields__)
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; valid: {sorted(cls.__dataclass_fields__)}")
    return raw
