"""Evaluation protocols (closed set, open set, zero shot), registered by name."""

from collections.abc import Callable

from core.registry import Registry

PROTOCOLS: Registry = Registry("protocol", home_package="benchmarks.protocols")
create_protocol = PROTOCOLS.create
list_protocols = PROTOCOLS.names


def register_protocol(name: str) -> Callable[[type], type]:
    """Register a protocol class under ``name``, which becomes its ``name`` (the one place a
    protocol is named: the store records it, methods declare it among their capabilities)."""

    def decorate(cls: type) -> type:
        cls.name = name
        return PROTOCOLS.register(name)(cls)

    return decorate


def protocol_judgings() -> dict:
    """Protocol name -> how the board reads its runs (:class:`leaderboards.judging.Judging`),
    every registered protocol's own declaration."""
    return {name: PROTOCOLS.entry(name).factory.judging for name in PROTOCOLS.names()}
