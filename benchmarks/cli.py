"""The ``modelprint`` command line: a thin layer that turns configs into function calls.

Every subcommand is a typed function registered with :func:`command` in a module of
``benchmarks.commands``; jsonargparse reads its signature and docstring, so each parameter
is a ``--key=value`` flag (the form a ``wandb agent`` passes with ``${args}``) and can also
come from stacked YAML files (``--config base.yaml --config small.yaml --key=value``, later
ones winning). A bad flag or config value ends in one line that names the key and what is
valid, never in a traceback; ``--debug`` anywhere on the line shows the traceback of a user
mistake too (every other exception is a bug and always keeps its traceback).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import typing
from collections.abc import Callable, Sequence
from typing import Any

import yaml
from jsonargparse import ActionConfigFile, ArgumentParser, Namespace, set_loader

from core.errors import ModelprintError
from core.registry import Registry
from core.yaml_config import load_yaml

CommandFunction = Callable[..., int | None]
COMMANDS: Registry[CommandFunction] = Registry("command", home_package="benchmarks.commands")


def command(
    name: str,
    optional_positionals: tuple[str, ...] = (),
    config: type | None = None,
    variadic: bool = False,
) -> Callable[[CommandFunction], CommandFunction]:
    """Register a function as ``modelprint NAME``; a space nests (``"synth describe"``).

    Parameters without a default become positionals; those named in ``optional_positionals``
    are positionals too, but may be left out (``modelprint list`` / ``modelprint list 'spec*'``).
    A command given a ``config`` dataclass takes one instance of it: the dataclass's fields are
    its flags (documented by the dataclass's ``Args:``), so they are listed once, in the class.
    A ``variadic`` command's one positional (typed ``str | list[str]``) takes every bare word
    of the line, as a shell glob expands (``modelprint attribute shots/*.png``).
    """

    def register(function: CommandFunction) -> CommandFunction:
        function.variadic = variadic  # type: ignore[attr-defined]
        function.optional_positionals = optional_positionals  # type: ignore[attr-defined]
        function.config_class = config  # type: ignore[attr-defined]
        return COMMANDS.register(name)(function)

    return register


class UsageError(ModelprintError):
    """A one-line, user-facing error from a command: printed without a traceback, exit status 2."""


def build_parser() -> ArgumentParser:
    """The whole command tree, built from the registered command functions. YAML (``--config``
    files and flag values) is read by the suite's strict loader: a key given twice or an alias
    bomb is a one-line error."""
    set_loader("yaml", load_yaml, exceptions=(yaml.YAMLError,))
    root = ArgumentParser(prog="modelprint", description=__doc__.splitlines()[0], exit_on_error=False)
    groups: dict[tuple[str, ...], Any] = {}
    parsers: dict[tuple[str, ...], ArgumentParser] = {(): root}
    for entry in COMMANDS:
        path = tuple(entry.name.split())
        for depth in range(len(path)):
            parent = path[:depth]
            if parent not in groups:
                groups[parent] = parsers[parent].add_subcommands(
                    required=True, dest="_".join(("command", *parent))
                )
            prefix = path[: depth + 1]
            if prefix not in parsers:
                sub = ArgumentParser(exit_on_error=False)
                if prefix == path:
                    sub.add_argument("--config", action=ActionConfigFile, help="YAML config(s), stackable")
                    optional = getattr(entry.factory, "optional_positionals", ())
                    for key in optional:
                        sub.add_argument(key, nargs="?", default=argparse.SUPPRESS, type=str)
                    config_class = getattr(entry.factory, "config_class", None)
                    if config_class is not None:
                        sub.add_class_arguments(config_class, as_group=False)
                    else:
                        sub.add_function_arguments(
                            entry.factory, as_group=False, as_positional=True, skip=set(optional)
                        )
                summary = entry.summary if prefix == path else f"{prefix[-1]} subcommands"
                groups[parent].add_subcommand(prefix[-1], sub, help=summary)
                parsers[prefix] = sub
    return root


def _selected(parser: ArgumentParser, cfg: Namespace) -> tuple[str, ArgumentParser, Namespace]:
    """Walk down the chosen subcommands to the command name, its parser and its namespace."""
    path: list[str] = []
    dest = "command"
    while dest in cfg and cfg[dest] is not None:
        name = cfg[dest]
        path.append(name)
        parser = parser._subcommands_action._name_parser_map[name]  # noqa: SLF001 - jsonargparse keeps it here
        cfg = cfg[name]
        dest = f"{dest}_{name}"
    return " ".join(path), parser, cfg


def _valid_keys(parser: ArgumentParser) -> list[str]:
    hidden = {"help", "config", "print_config"}
    return sorted(a.dest for a in parser._actions if a.dest not in hidden)  # noqa: SLF001


def one_line_error(parser: ArgumentParser, argv: Sequence[str], error: Exception) -> str:
    """Rewrite a jsonargparse error as one line naming the key and the valid choices."""
    message = " ".join(str(error).split())
    leaf, prog = parser, "modelprint"
    for token in argv:  # find the deepest subcommand parser named on the command line
        action = getattr(leaf, "_subcommands_action", None)
        if action is not None and token in action._name_parser_map:  # noqa: SLF001
            leaf, prog = action._name_parser_map[token], f"{prog} {token}"  # noqa: SLF001
    valid = _valid_keys(leaf)
    unknown = re.findall(r"--([A-Za-z0-9_.\-]+)", message) if "nrecognized" in message else []
    unknown += re.findall(r'[Kk]ey "([^"]+)" is not expected', message)
    unknown += re.findall(r"does not accept option '([^']+)'", message)
    if unknown:
        key = unknown[0]
        positionals = [a.dest for a in leaf._actions if not a.option_strings]  # noqa: SLF001
        if key in positionals:
            return f"{prog}: {key!r} is positional: give it without --{key}=, as in {prog} {key.upper()}"
        close = difflib.get_close_matches(key, valid, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"{prog}: unknown key {key!r}.{hint} Valid keys: {', '.join(valid) or '(none)'}"
    match = re.search(r'Parser key "([^"]+)": (.*)', message)
    if match:
        return f"{prog}: invalid value for key {match.group(1)!r}: {match.group(2)}"
    if 'expected "command' in message.lower() or "subcommand" in message.lower():
        action = getattr(leaf, "_subcommands_action", None)
        choices = sorted(action._name_parser_map) if action else []  # noqa: SLF001
        return f"{prog}: {message}. Valid subcommands: {', '.join(choices)}"
    return f"{prog}: {message}"


def chosen_command(args: list[str]) -> tuple[Any, int] | None:
    """The registered command the line starts with and how many words name it, or None."""
    for entry in COMMANDS:
        words = entry.name.split()
        if args[: len(words)] == words:
            return entry, len(words)
    return None


def bare_boolean_flags(args: list[str]) -> list[str]:
    """``--local`` alone means ``--local=true`` for a boolean parameter of the chosen command
    (jsonargparse wants a value; people and docs write the bare flag)."""
    chosen = chosen_command(args)
    if chosen is None:
        return args
    factory = chosen[0].factory
    hints = typing.get_type_hints(getattr(factory, "config_class", None) or factory)
    booleans = {name for name, hint in hints.items() if hint is bool}
    return [f"{a}=true" if a.startswith("--") and a[2:] in booleans else a for a in args]


def gathered_positionals(args: list[str]) -> list[str]:
    """A variadic command's bare words as one list value (jsonargparse takes one positional
    token); a flag without ``=`` takes the next word as its value, as jsonargparse reads it."""
    chosen = chosen_command(args)
    if chosen is None or not getattr(chosen[0].factory, "variadic", False):
        return args
    named = chosen[1]
    bare, rest, rest_args = [], [], iter(args[named:])
    for arg in rest_args:
        if arg.startswith("--"):
            rest.append(arg)
            if "=" not in arg:
                rest.append(next(rest_args, ""))
        else:
            bare.append(arg)
    if not bare:
        return args
    return [*args[:named], json.dumps(bare) if len(bare) > 1 else bare[0], *rest]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modelprint`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args  # anywhere on the line: a user mistake keeps its traceback
    args = gathered_positionals(bare_boolean_flags([a for a in args if a != "--debug"]))
    parser = build_parser()
    try:
        cfg = parser.parse_args(args)
        name, leaf_parser, leaf_cfg = _selected(parser, cfg)
        function = COMMANDS.entry(name).factory
        kwargs = leaf_parser.instantiate(leaf_cfg).as_dict()
        kwargs.pop("config", None)
        config_class = getattr(function, "config_class", None)
        status = function(config_class(**kwargs)) if config_class is not None else function(**kwargs)
    except argparse.ArgumentError as error:
        print(one_line_error(parser, args, error), file=sys.stderr)
        return 2
    except ModelprintError as error:  # every user mistake: one line, no traceback
        if debug:
            raise
        print(f"modelprint: {' '.join(str(error).split())}", file=sys.stderr)
        return error.exit_code
    return int(status or 0)


if __name__ == "__main__":  # the commands register with ``benchmarks.cli``, not this ``__main__`` copy
    from benchmarks.cli import main as registered_main

    raise SystemExit(registered_main())
