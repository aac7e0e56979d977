"""Capacity holds: the pool's chaos hook, so an experiment can fill the pool the way a stuck tenant does.

A hold takes up to `slots` slots — those free now, then each one as it is released — until it is
released or its `ttl_s` runs out. The TTL is a safety net: a hold whose experiment died without a
rollback still ends.
"""

from __future__ import annotations

import itertools
import threading
import time

#: Longest hold a caller may ask for.
MAX_TTL_S = 3600.0
#: How long one attempt to take a slot waits before checking for release or expiry again.
TAKE_WAIT_S = 0.2


class Hold:
    """One hold's thread: takes slots until it has enough, gives them all back when it ends."""

    def __init__(self, hold_id: str, slots, requested: int, ttl_s: float, owner: str):
        self.id, self.requested, self.owner = hold_id, requested, owner
        self.expires = time.monotonic() + min(ttl_s, MAX_TTL_S)
        self.held = 0
        self.released = threading.Event()
        self._slots = slots
        self._thread = threading.Thread(target=self._run, name=f"hold-{hold_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self.released.is_set() and time.monotonic() < self.expires:
                if self.held < self.requested and self._slots.take("chaos-hold", TAKE_WAIT_S):
                    self.held += 1
                elif self.held >= self.requested:
                    self.released.wait(min(TAKE_WAIT_S, max(self.expires - time.monotonic(), 0)))
        finally:
            for _ in range(self.held):
                self._slots.release("chaos-hold")
            self.held = 0
            self.released.set()

    def view(self) -> dict:
        return {"id": self.id, "requested": self.requested, "held": self.held, "owner": self.owner,
                "expires_in_s": round(max(self.expires - time.monotonic(), 0.0), 1)}


class Holds:
    """The pool's live holds."""

    def __init__(self, slots):
        self._slots = slots
        self._holds: dict[str, Hold] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create(self, requested: int, ttl_s: float, owner: str) -> Hold:
        with self._lock:
            hold = Hold(f"h{next(self._ids)}", self._slots, requested, ttl_s, owner)
            self._holds[hold.id] = hold
            return hold

    def live(self) -> list[Hold]:
        with self._lock:
            for hid in [h.id for h in self._holds.values() if h.released.is_set()]:
                del self._holds[hid]
            return list(self._holds.values())

    def release(self, hold_id: str) -> bool:
        """Release a hold; False when there is no such live hold."""
        with self._lock:
            hold = self._holds.pop(hold_id, None)
        if hold is None:
            return False
        hold.released.set()
        hold._thread.join(TAKE_WAIT_S * 5)
        return True
