"""Typed configs: every YAML mapping and argument set is checked by jsonargparse against the
typed signature it fills (a dataclass, a method's constructor) before any work starts.

An unknown key or a value of the wrong type is a :class:`core.errors.ConfigError` naming the
key, the file and the valid keys. The values are returned as written (validation only), so
what a run records and hashes is exactly what the user gave.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentParser

from core.errors import ConfigError


def accepted_parameters(target: Any) -> list[str]:
    """The keyword parameters ``target`` accepts, following ``**kwargs`` up a class's bases
    (a subclass that passes them on to its parent accepts the parent's too)."""
    names: list[str] = []
    classes = inspect.getmro(target) if inspect.isclass(target) else (target,)
    for owner in classes:
        function = owner.__init__ if inspect.isclass(owner) else owner
        if function is object.__init__:
            break
        parameters = list(inspect.signature(function).parameters.values())
        names += [
            p.name
            for p in parameters
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in names
        ]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return names


def required_parameters(target: Any) -> list[str]:
    """The parameters of ``target``'s own signature that have no default."""
    function = target.__init__ if inspect.isclass(target) else target
    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.name != "self" and p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]


def check_typed(
    target: Any, values: dict[str, Any], source: str, supplied: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``values`` checked against ``target``'s typed signature; returned unchanged. A required
    parameter must be in ``values`` unless the caller passes it itself (``supplied``)."""
    valid = accepted_parameters(target)
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; valid: {', '.join(valid) or '(none)'}")
    missing = [name for name in required_parameters(target) if name not in values and name not in supplied]
    if missing:
        raise ConfigError(f"{source}: missing required key(s) {missing}")
    parser = ArgumentParser(exit_on_error=False)
    try:
        parser.add_class_arguments(target, as_group=False) if inspect.isclass(
            target
        ) else parser.add_function_arguments(target, as_group=False)
    except Exception:  # a signature jsonargparse cannot describe: names were checked above
        return values
    typed = {k: v for k, v in values.items() if k in {a.dest for a in parser._actions}}  # noqa: SLF001
    try:
        parser.parse_object(typed, defaults=False)
    except Exception as error:  # jsonargparse's ArgumentError: make it one line with the file
        raise ConfigError(f"{source}: {' '.join(str(error).split())}") from None
    return values


BASE_KEY = "base_config"
#: the most values a YAML document may stand for once its aliases are expanded: a config of a
#: few hundred bytes with nested aliases otherwise becomes gigabytes when copied
MAX_EXPANDED_NODES = 1_000_000


#: an integer written with a leading zero (``007``): YAML reads it as the number 7 (octal in
#: YAML 1.1), but in the suite's arguments it is a name - a generator folder ``007``
ZERO_PADDED = re.compile(r"[-+]?0[0-9_]+")


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping (the later one would
    silently win) and a document whose aliases expand beyond :data:`MAX_EXPANDED_NODES`, and
    keeps a zero-padded integer as the text it is (:data:`ZERO_PADDED`)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int | str:
        text = self.construct_scalar(node)
        if isinstance(text, str) and ZERO_PADDED.fullmatch(text):
            return text
        return super().construct_yaml_int(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ConfigError(f"YAML key {key!r} given twice (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` stands for with every alias expanded (memoised per node)."""
    if id(node) not in sizes:
        sizes[id(node)] = 1  # a node that refers to itself counts once
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return sizes[id(node)]


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)


def load_yaml(text: str) -> Any:
    """One YAML document, strictly (:class:`StrictLoader`): the suite's one YAML reader, also
    jsonargparse's for ``--config`` files and flag values."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise ConfigError(f"YAML expands to more than {MAX_EXPANDED_NODES:,} values through its aliases")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The YAML mapping at ``path`` (ConfigError if it is not one). ``base_config: other.yaml``
    (a file beside it) is read first and overridden key by key, so a variant's YAML names only
    what it changes: the one place a config inherits from another."""
    path = Path(path)
    try:
        raw = load_yaml(path.read_text()) or {}
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values, got {type(raw).__name__}")
    base = raw.pop(BASE_KEY, None)
    return {**read_yaml_mapping(path.with_name(str(base))), **raw} if base else raw


def read_dataclass_yaml(cls: type, path: str | Path) -> dict[str, Any]:
    """The YAML mapping at ``path``, checked against ``cls``'s typed fields (ConfigError)."""
    return check_typed(cls, read_yaml_mapping(path), str(path))
