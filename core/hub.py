"""Whether the Hugging Face Hub can be reached, found once per process in two seconds.

Offline, every ``huggingface_hub`` download retries five times with back-off to 8 s before it
gives up - about 24 s per method whose weights come from the Hub, 50 s of a default run spent
learning what one look says at once. :func:`settle_hub_access` looks once (unless
``HF_HUB_OFFLINE`` already says so) and, when the Hub does not answer, switches
``huggingface_hub`` to offline mode for the rest of the process: weights in the local cache are
still used, and a method whose weights are not there is left out with its one line, no retry.
"""

from __future__ import annotations

import threading

#: seconds the one probe of the Hub waits for an answer
HUB_PROBE_TIMEOUT_S = 2.0

_reachable: bool | None = None


def hub_answers(endpoint: str, timeout_s: float) -> bool:
    """Whether ``endpoint`` answers an HTTP request (a status below 500) within ``timeout_s``, through
    ``huggingface_hub``'s own session (its proxies, certificates and headers). Asked from a
    daemon thread and waited for at most ``timeout_s``: a name look-up is not bounded by the
    request's time-out, and a hung one must not hold the run."""
    from huggingface_hub.utils import get_session

    answered: list[bool] = []

    def ask() -> None:
        try:
            response = get_session().head(endpoint, timeout=timeout_s)
            answered.append(response.status_code < 500)  # 502/503/504: a proxy that found no route
        except Exception:  # no route, no name, refused, timed out: not reachable from here
            answered.append(False)

    probe = threading.Thread(target=ask, name="modelprint-hub-probe", daemon=True)
    probe.start()
    probe.join(timeout_s)
    return bool(answered and answered[0])


def hub_reachable(timeout_s: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """False under ``HF_HUB_OFFLINE`` without asking; else whether the Hub answered the one
    probe of this process."""
    import huggingface_hub.constants

    global _reachable
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        return False
    if _reachable is None:
        _reachable = hub_answers(huggingface_hub.constants.ENDPOINT, timeout_s)
    return _reachable


def settle_hub_access(timeout_s: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """Probe the Hub once; where it does not answer, ``huggingface_hub`` works offline from now
    on (its cache only), so every later look-up fails at once instead of retrying. Returns
    whether the Hub can be reached."""
    import huggingface_hub.constants

    reachable = hub_reachable(timeout_s)
    if not reachable:
        huggingface_hub.constants.HF_HUB_OFFLINE = True
    return reachable
