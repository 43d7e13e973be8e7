"""Offline in two seconds: the Hub is probed once per process, and offline is then settled."""

from __future__ import annotations

import threading
import time
from typing import Any

import huggingface_hub.constants
import pytest

import core.hub
from core.hub import hub_answers, hub_reachable, settle_hub_access


class Session:
    """A stand-in for huggingface_hub's HTTP session: answers, fails, or hangs."""

    def __init__(self, behaviour: str, calls: list[str]) -> None:
        self.behaviour, self.calls = behaviour, calls

    def head(self, url: str, timeout: float) -> Any:
        self.calls.append(url)
        if self.behaviour == "fail":
            raise OSError("[Errno -2] Name or service not known")
        if self.behaviour == "hang":
            threading.Event().wait(30)  # a name look-up no time-out bounds
        return type("Response", (), {"status_code": 502 if self.behaviour == "proxy" else 200})()


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Returns a function installing a session's behaviour; the Hub switch and the process's
    one answer are put back after the test."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(core.hub, "_reachable", None)
    calls: list[str] = []

    def install(behaviour: str) -> list[str]:
        monkeypatch.setattr("huggingface_hub.utils.get_session", lambda: Session(behaviour, calls))
        return calls

    return install


@pytest.mark.parametrize(("behaviour", "answer"), [("ok", True), ("fail", False), ("proxy", False)])
def test_the_probe_reads_an_answer(probe: Any, behaviour: str, answer: bool) -> None:
    probe(behaviour)
    assert hub_answers("https://hub.example", 1.0) is answer


def test_a_hung_look_up_is_cut_at_the_time_out(probe: Any) -> None:
    probe("hang")
    start = time.perf_counter()
    assert hub_answers("https://hub.example", 0.3) is False
    assert time.perf_counter() - start < 2.0


def test_offline_is_found_once_and_then_settled(probe: Any) -> None:
    """One probe per process; an unreachable Hub switches huggingface_hub offline, so every
    later download fails at once from the cache instead of retrying."""
    calls = probe("fail")
    assert settle_hub_access() is False and hub_reachable() is False
    assert len(calls) == 1
    assert huggingface_hub.constants.is_offline_mode()


def test_hf_hub_offline_is_believed_without_asking(probe: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = probe("ok")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert hub_reachable() is False and calls == []
