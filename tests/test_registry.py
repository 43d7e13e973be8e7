"""The timm-style registries: register by decorator, create by name, list by wildcard."""

from __future__ import annotations

import pytest

from core.registry import Registry, UnknownNameError


def make_registry() -> Registry:
    registry: Registry = Registry("widget")

    @registry.register()
    def small_widget(size: int = 1) -> tuple[str, int]:
        """A small widget."""
        return ("small", size)

    @registry.register("large_widget")
    def build_large() -> tuple[str, int]:
        return ("large", 100)

    return registry


def test_create_by_name_passes_kwargs() -> None:
    registry = make_registry()
    assert registry.create("small_widget", size=3) == ("small", 3)
    assert registry.create("large_widget") == ("large", 100)


def test_names_filter_by_wildcard_and_summary_comes_from_docstring() -> None:
    registry = make_registry()
    assert registry.names() == ["large_widget", "small_widget"]
    assert registry.names("small*") == ["small_widget"]
    assert registry.entry("small_widget").summary == "A small widget."


def test_unknown_name_names_close_matches_and_valid_names() -> None:
    registry = make_registry()
    with pytest.raises(UnknownNameError) as info:
        registry.create("smal_widget")
    message = str(info.value)
    assert "unknown widget 'smal_widget'" in message
    assert "Did you mean 'small_widget'" in message
    assert "large_widget, small_widget" in message


def test_registering_a_different_factory_under_a_taken_name_fails() -> None:
    registry = make_registry()
    with pytest.raises(ValueError, match="already registered"):

        @registry.register("small_widget")
        def other() -> None: ...


def test_discovery_imports_the_home_package() -> None:
    from benchmarks.cli import COMMANDS

    assert {"env", "list", "check"} <= set(COMMANDS.names())
