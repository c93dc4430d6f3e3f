"""Which surge keys changed since a KV revision: the in-memory ring that makes stream resume cheap.

The surge bucket keeps one value per key (history 1), and every value carries its KV revision (the
stream sequence, identical on every node of the region). So "what changed since revision R" is the
set of keys whose newest revision is above R, deletions included (their tombstone has a revision too).
:class:`ChangeLog` keeps exactly that: the newest revision of each key, ordered by revision, for at
most ``capacity`` keys. It is fed by the surge view's watch, starting with the initial replay of every
current key, so it answers the same after a node restart and on any node.

When the ring is full the key with the oldest newest-revision is forgotten and :attr:`floor` rises to
that revision: a resume from below the floor cannot be answered exactly and gets a fresh snapshot.
"""

from __future__ import annotations

from collections import OrderedDict


class ChangeLog:
    """Newest KV revision per surge key, in revision order, bounded to ``capacity`` keys."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        #: resumes from a revision below this one cannot be answered (something may be forgotten)
        self.floor = 0
        self.head = 0
        self._revs: OrderedDict[str, int] = OrderedDict()
        # JetStream delivers in stream order, so the ring stays sorted and ``since`` stops early; should a
        # revision ever arrive out of order, ``since`` falls back to a full scan rather than miss a key.
        self._sorted = True

    def __len__(self) -> int:
        return len(self._revs)

    def record(self, key: str, revision: int) -> None:
        """Note that ``key`` changed (or was deleted) at ``revision``."""
        if revision < self.head:
            self._sorted = False
        self.head = max(self.head, revision)
        if self.capacity <= 0:
            self.floor = self.head
            return
        revs = self._revs
        if key in revs:
            revs.move_to_end(key)
        revs[key] = revision
        if len(revs) > self.capacity:
            _, forgotten = revs.popitem(last=False)
            self.floor = max(self.floor, forgotten)

    def can_resume(self, revision: int) -> bool:
        """True when the changes after ``revision`` are all known (floor <= revision <= head)."""
        return self.floor <= revision <= self.head

    def since(self, revision: int) -> list[str] | None:
        """Keys whose newest change is after ``revision``, newest first; None when it cannot be answered."""
        if not self.can_resume(revision):
            return None
        if not self._sorted:
            return [key for key, rev in reversed(self._revs.items()) if rev > revision]
        out = []
        for key, rev in reversed(self._revs.items()):
            if rev <= revision:
                break
            out.append(key)
        return out


__all__ = ["ChangeLog"]
