"""Name -> factory registries, in the manner of timm's ``register_model``/``create_model``.

A registry maps a short name (``"spectral"``, ``"zoo"``, ``"open_set"``) to a factory. Entries
register themselves with a decorator in the module that defines them; the registry imports
every module of its home package on first lookup, so adding an entry is one new file and
never an edit to a central switch or to the runner.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from core.errors import ModelprintError

T = TypeVar("T")


class UnknownNameError(ModelprintError, KeyError):
    """A name that no registry entry answers to; the message lists close matches."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain sentence
        return str(self.args[0])


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered factory with the one-line summary taken from its docstring."""

    name: str
    factory: Callable[..., T]
    summary: str


@dataclass
class Registry(Generic[T]):
    """A timm-style registry of factories for one kind of thing.

    Args:
        kind: what the entries are (``"method"``, ``"dataset"``, ``"protocol"``), used in errors.
        home_package: the package whose modules register entries; imported lazily on lookup.
    """

    kind: str
    home_package: str | None = None
    _entries: dict[str, Entry[T]] = field(default_factory=dict)
    _discovered: bool = False

    def register(self, name: str | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator that registers a class or function under ``name`` (default: its own name)."""

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            key = name or factory.__name__
            existing = self._entries.get(key)
            if existing is not None and existing.factory is not factory:
                same_origin = _qualified_name(existing.factory) == _qualified_name(factory)
                if not same_origin:
                    raise ValueError(
                        f"{self.kind} {key!r} is already registered by {_qualified_name(existing.factory)}"
                    )
            doc = (factory.__doc__ or "").strip().splitlines()
            self._entries[key] = Entry(key, factory, doc[0] if doc else "")
            return factory

        return decorate

    @contextmanager
    def scoped(self, entries: dict[str, Callable[..., T]]) -> Iterator[Registry[T]]:
        """Register ``entries`` for the duration of a ``with`` block (a test's own methods),
        leaving the registry as it was afterwards."""
        self.discover()
        clash = sorted(set(entries) & set(self._entries))
        if clash:
            raise ValueError(f"{self.kind}(s) {clash} are already registered")
        for name, factory in entries.items():
            self.register(name)(factory)
        try:
            yield self
        finally:
            for name in entries:
                self._entries.pop(name, None)

    def discover(self) -> None:
        """Import every module of the home package so that their decorators run."""
        if self._discovered or self.home_package is None:
            return
        self._discovered = True
        package = importlib.import_module(self.home_package)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{self.home_package}."):
            if not module.name.rsplit(".", 1)[-1].startswith("_"):
                importlib.import_module(module.name)

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style wildcard, sorted (timm's ``list_models``)."""
        self.discover()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def entry(self, name: str) -> Entry[T]:
        """The entry registered under ``name``; an unknown name raises with close matches."""
        self.discover()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def create(self, name: str, /, **kwargs: Any) -> T:
        """Build the entry registered under ``name`` with ``kwargs`` (which may hold a ``name`` of
        their own: a data set's)."""
        return self.entry(name).factory(**kwargs)

    def unknown_message(self, name: str) -> str:
        """The one-line error for an unknown name, naming close matches and the valid names."""
        valid = self.names()
        close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(valid) if valid else "(none registered)"
        return f"unknown {self.kind} {name!r}.{hint} Valid {self.kind}s: {listing}"

    def __contains__(self, name: object) -> bool:
        self.discover()
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        self.discover()
        return iter(sorted(self._entries.values(), key=lambda e: e.name))


def _qualified_name(obj: Callable[..., Any]) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
