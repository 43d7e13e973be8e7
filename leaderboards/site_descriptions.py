"""What a method is, in its own words, for its page on the site.

A method describes itself where it is registered (the docstring of the class that
``@register_method("name")`` decorates, and the bullet naming it in its module's docstring) and
says what was scaled or changed in the opening comment of its config
(``configs/methods/<name>.yaml``). The board sits below the methods in the package layers, so
the sources are read as text (``ast``), never imported: no method's dependencies load to draw
a page, and the layer rule holds.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import configs
from core.paths import file_slug

ROOT = Path(configs.__file__).resolve().parents[1]
METHOD_SOURCES = ROOT / "lightning_modules"
METHOD_CONFIGS = ROOT / "configs" / "methods"
#: the decorator that names a method where it is defined
REGISTER = "register_method"


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


def _module_bullet(module_doc: str, name: str) -> str:
    """The module docstring's bullet about ``name`` (``* ``name`` ...``), joined into one line."""
    match = re.search(rf"^\* ``{re.escape(name)}``(.*?)(?=^\* |\n\n|\Z)", module_doc, re.M | re.S)
    return " ".join(f"{name}{match.group(1)}".split()) if match else ""


@cache
def registered_descriptions() -> dict[str, tuple[str, ...]]:
    """Method name -> its registered docstring's first paragraph and its module's bullet."""
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted(METHOD_SOURCES.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        module_doc = ast.get_docstring(tree) or ""
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef | ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and getattr(decorator.func, "id", "") == REGISTER
                    and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)
                ):
                    name = str(decorator.args[0].value)
                    own = _first_paragraph(ast.get_docstring(node) or "")
                    bullet = _module_bullet(module_doc, name)
                    if bullet:  # the docstring's pointer to the bullet is said by the bullet itself
                        own = own.replace("; see the module docstring.", ".")
                    found[name] = tuple(part for part in (own, bullet) if part)
    return found


def config_comment(method: str) -> str:
    """The opening comment of the method's config: what was scaled or changed ('' if none)."""
    if file_slug(method) != method:  # not a registry name (the store may hold any): no config
        return ""
    path = METHOD_CONFIGS / f"{method}.yaml"
    if not path.is_file():
        return ""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def describe(method: str) -> tuple[tuple[str, ...], str]:
    """(paragraphs on what the method is, what its config says was scaled or changed); empty
    where unsaid."""
    return registered_descriptions().get(method, ()), config_comment(method)
