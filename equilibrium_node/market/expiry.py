"""Keys ordered by time, for exact window expiry at O(1) per update.

Each key (a driver, or a rider in a cell for one demand kind) has one current time; expiry pops the
keys whose time has left the window. Stream timestamps almost always arrive in order, so the keys
live in an ``OrderedDict`` kept sorted by time: an update moves the key to the end, expiry pops from
the front. A time earlier than the newest one appended (a stream clock stepping back) goes to a
small heap instead, so expiry stays exact without ever sorting the main order. Superseded heap
entries are skipped lazily.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from collections.abc import Hashable

from .windows import NEVER


class TimeOrder:
    """The current time of each key, popped in time order once ``t + window <= now``."""

    __slots__ = ("_counter", "_heap", "_in_heap", "_last", "_od")

    def __init__(self) -> None:
        self._od: OrderedDict[Hashable, float] = OrderedDict()
        self._heap: list[tuple[float, int, Hashable]] = []
        self._in_heap: dict[Hashable, float] = {}
        self._last = NEVER
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._od) + len(self._in_heap)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._od or key in self._in_heap

    def touch(self, key: Hashable, t: float) -> None:
        """Set the key's time (inserting it if new)."""
        od = self._od
        if t >= self._last:
            od.pop(key, None)
            od[key] = t
            self._last = t
            if self._in_heap:
                self._in_heap.pop(key, None)
        else:
            od.pop(key, None)
            self._in_heap[key] = t
            heapq.heappush(self._heap, (t, next(self._counter), key))

    def discard(self, key: Hashable) -> None:
        """Forget a key (no longer expiring)."""
        self._od.pop(key, None)
        if self._in_heap:
            self._in_heap.pop(key, None)

    def pop_due(self, now: float, window_s: float) -> list[tuple[Hashable, float]]:
        """Remove and return ``(key, t)`` for every key with ``t + window_s <= now``, oldest first per source."""
        out: list[tuple[Hashable, float]] = []
        od = self._od
        while od:
            key = next(iter(od))
            t = od[key]
            if t + window_s > now:
                break
            del od[key]
            out.append((key, t))
        heap = self._heap
        while heap and heap[0][0] + window_s <= now:
            t, _, key = heapq.heappop(heap)
            if self._in_heap.get(key) == t:
                del self._in_heap[key]
                out.append((key, t))
        return out

    def items(self) -> list[tuple[Hashable, float]]:
        """Every ``(key, t)``, for tests and snapshots."""
        return [*self._od.items(), *self._in_heap.items()]
