"""A time-ordered queue of ``(key, t)`` entries for window expiry, O(1) per event.

Every event that puts a key into a window appends one entry; expiry pops the entries whose time has
left the window. Entries are *lazy*: a later event of the same key does not remove the earlier
entry, so the owner re-checks each popped key against its record (the truth) and acts only if the
record itself has left the window. That keeps the hot path to two ``deque.append`` calls.

Stream timestamps almost always arrive in order, so entries go to the back of two parallel deques
(times and keys: 16 bytes an entry). A time earlier than the newest appended one (a stream clock
stepping back) goes to a small heap instead, so expiry stays exact without ever sorting. Memory is
bounded by the events of one window: entries older than the window are popped at every advance.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Hashable

from .windows import NEVER


class TimeQueue:
    """Lazy ``(key, t)`` entries popped in time order once ``t + window <= now``."""

    __slots__ = ("_counter", "_heap", "_keys", "_last", "_times")

    def __init__(self) -> None:
        self._times: deque[float] = deque()
        self._keys: deque[Hashable] = deque()
        self._heap: list[tuple[float, int, Hashable]] = []
        self._last = NEVER
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._times) + len(self._heap)

    def push(self, key: Hashable, t: float) -> None:
        """Add an entry (the key entered a window at time ``t``)."""
        if t >= self._last:
            self._times.append(t)
            self._keys.append(key)
            self._last = t
        else:
            heapq.heappush(self._heap, (t, next(self._counter), key))

    def pop_due(self, now: float, window_s: float) -> list[tuple[Hashable, float]]:
        """Remove and return every entry with ``t + window_s <= now`` (in time order per source)."""
        out: list[tuple[Hashable, float]] = []
        times, keys = self._times, self._keys
        while times and times[0] + window_s <= now:
            out.append((keys.popleft(), times.popleft()))
        heap = self._heap
        while heap and heap[0][0] + window_s <= now:
            t, _, key = heapq.heappop(heap)
            out.append((key, t))
        return out
