"""Claims with a lease on benchmark cells, kept in the results store, so that two runs of one plan
on one store never compute the same cell: the first to claim a cell computes it, the other waits
for its figures and reuses them.

A claim names its owner (host, process, a random token) and expires ``lease_s`` seconds after its
last renewal; a live owner renews its claims from a background thread, so only a dead one (killed,
machine lost) lets its claims lapse - then another run takes the cell over, at once where the
dead owner was a process of the same host. A cell is named by its text id
(:meth:`leaderboards.schema.RunKey.cell_id`). The table (:data:`leaderboards.schema.CLAIMS`) is
coordination state, not results: it is created on first use and never read by the board.
Expiry compares wall clocks, which is exact on one host and as good as the hosts' clock sync
across machines sharing a store.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable

from leaderboards.schema import CLAIMS
from leaderboards.store import ResultsStore


def _dead_here(owner: str) -> bool:
    """Whether ``owner`` was a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class CellClaims:
    """One run's claims on one store; use as a context manager so the renewal thread stops and
    every claim still held is released, whatever ends the run."""

    def __init__(self, store: ResultsStore, lease_s: float = 60.0) -> None:
        self.store, self.lease_s = store, lease_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> CellClaims:
        self._renewer = threading.Thread(target=self._renew_until_stopped, daemon=True)
        self._renewer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        self.release()

    def claim(self, cells: Iterable[str]) -> set[str]:
        """Claim every cell not held by another owner's live lease; returns the cells this run
        now holds (among ``cells``)."""
        cells = list(cells)
        if not cells:
            return set()
        now = time.time()
        with self.store.transaction() as conn:
            self.store.create(conn, CLAIMS)
            conn.execute("DELETE FROM claims WHERE expires_at < ?", (now,))
            owners = {row[0] for row in conn.execute("SELECT DISTINCT owner FROM claims")}
            for owner in filter(_dead_here, owners):  # killed on this host: no need to wait
                conn.execute("DELETE FROM claims WHERE owner = ?", (owner,))
            for cell in cells:
                conn.execute(
                    f"{CLAIMS.insert()} ON CONFLICT(cell) DO UPDATE SET "
                    "expires_at = excluded.expires_at WHERE claims.owner = excluded.owner",
                    (cell, self.owner, now + self.lease_s),
                )
            held = {row[0] for row in conn.execute("SELECT cell FROM claims WHERE owner = ?", (self.owner,))}
        return held & set(cells)

    def release(self, cells: Iterable[str] | None = None) -> None:
        """Give up the claims on ``cells`` (default: all this run holds)."""
        with self.store.transaction() as conn:
            self.store.create(conn, CLAIMS)
            if cells is None:
                conn.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))
            else:
                conn.executemany(
                    "DELETE FROM claims WHERE owner = ? AND cell = ?", [(self.owner, c) for c in cells]
                )

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                with self.store.connection() as conn:
                    conn.execute(
                        "UPDATE claims SET expires_at = ? WHERE owner = ?",
                        (time.time() + self.lease_s, self.owner),
                    )
            except Exception:  # a busy store: the next beat renews; the lease is 3 beats long
                continue
