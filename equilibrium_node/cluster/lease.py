"""The region's leader lease: key ``leader`` of KV ``eq_<region>_nodes``, held by compare-and-set.

The exact NATS path (each step is exercised against a real server in ``tests/integration/test_lease.py``,
because nats-py 2.16 has known KV bugs around expiry markers, see the streaming notes §1.3):

- **Expiry.** The bucket's max age is ``cluster.lease_ttl_s`` (provisioning) and it has no limit
  markers: a lease message disappears ``lease_ttl_s`` after its last write (the server's timer runs
  about 0.25 s late). No per-message TTL is needed, so ``kv.update`` not taking one does not matter.
- **Read.** A direct get of the key's last message (``$JS.API.DIRECT.GET``). Nothing there (never
  written, expired), a ``KV-Operation: DEL/PURGE`` tombstone (released) or an expiry marker
  (``Nats-Marker-Reason``, should someone enable markers on the bucket) means *free*, with that
  message's sequence as the revision to compare against (0 when there is none). nats-py's
  ``kv.create`` is not used: it misreads markers and raises until they expire.
- **Acquire.** Publish our :class:`LeaseRecord` with ``Nats-Expected-Last-Subject-Sequence`` = that
  revision. The stream's leader serialises publishes, so of several candidates exactly one wins.
- **Renew.** The same compare-and-set on our latest revision, every ``lease_ttl_s / 3``. A
  wrong-last-sequence answer means another node holds the lease: we lost it.
- **Release.** A ``KV-Operation: DEL`` tombstone, compare-and-set on our revision (graceful shutdown),
  so a follower sees the lease free at its next poll instead of waiting for the expiry.

**Term = fencing token.** The revision of the acquiring write. Stream sequences only grow, so a later
term always has a larger token. It travels in the header ``Eq-Leader-Term`` of every stored leader
write and in checkpoint manifests; records after the acquiring one carry it in ``term``.

**Local validity.** This node counts the lease as held until ``sent + lease_ttl_s - margin``, ``sent``
being when the last successful acquire or renew was *sent*: the server stored it later, so it expires
there later than here. By the time another node can acquire, this one has already stopped writing
(:meth:`LeaderLease.check` is the fence of every leader write, and it also refuses while NATS is
disconnected, so nothing is queued in the client's reconnect buffer). The margin (a sixth of the TTL,
at least 0.2 s) covers writes in flight and the renewal round trip.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import NamedTuple

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from ..bus.kv_wire import EXPECTED_LAST, KV_OPERATION, WRONG_LAST_SEQUENCE, is_removal
from ..bus.names import RegionNames
from ..errors import NotLeaderError
from ..logs import get_logger
from ..messages import TERM_HEADER

log = get_logger(__name__)

LEASE_KEY = "leader"


class LeaseRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The value of the ``leader`` key."""

    node_id: str
    http: str = ""
    #: the fencing token; 0 in the acquiring write itself (its own revision is the token)
    term: int = 0
    acquired_at: float = 0.0
    renewed_at: float = 0.0
    #: random per process: tells this process's lease from one of an earlier process with the same node id
    instance: str = ""


_record_decoder = msgspec.json.Decoder(LeaseRecord)
_encoder = msgspec.json.Encoder()


class LeaseState(NamedTuple):
    """What the ``leader`` key holds now, as read."""

    revision: int  # sequence of the key's last message (0: none)
    free: bool
    record: LeaseRecord | None  # None when free, or held by a value this node cannot read

    @property
    def term(self) -> int:
        """The holder's fencing token (0 when free)."""
        if self.free:
            return 0
        return (self.record.term if self.record is not None else 0) or self.revision


class LeaseConflict(Exception):
    """A compare-and-set on the lease key found another revision."""


class LeaderLease:
    """This node's side of the lease: read, acquire, renew, release, and the fence of its writes."""

    def __init__(self, js: JetStreamContext, names: RegionNames, node_id: str, *, ttl_s: float,
                 timeout_s: float = 5.0, http: Callable[[], str] = lambda: "",
                 connected: Callable[[], bool] = lambda: True, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.js = js
        self.stream = f"KV_{names.nodes_bucket}"
        self.subject = f"$KV.{names.nodes_bucket}.{LEASE_KEY}"
        self.node_id = node_id
        self.ttl_s = ttl_s
        self.margin_s = max(0.2, ttl_s / 6)
        self.timeout_s = min(timeout_s, max(0.5, ttl_s / 3))
        self.http = http
        self.connected = connected
        self.clock = clock
        self.wall = wall
        self.instance = os.urandom(6).hex()
        #: the fencing token while this node holds (or believes it holds) the lease; 0 otherwise
        self.term = 0
        #: our latest write's revision (what the next renewal compares against)
        self.revision = 0
        self.valid_until = 0.0
        self.acquired_at = 0.0
        #: one lease write at a time: a release never races a renewal on the same revision
        self._lock = asyncio.Lock()

    # the fence ---------------------------------------------------------------------------------------
    @property
    def held(self) -> bool:
        """True while this node may act as the leader: a term, within its local validity."""
        return self.term > 0 and self.clock() < self.valid_until

    def remaining_s(self) -> float:
        """Seconds of local validity left (0 when not held)."""
        return max(0.0, self.valid_until - self.clock()) if self.term else 0.0

    def check(self) -> None:
        """The fence of every leader write: raise :class:`NotLeaderError` unless the lease is held and
        NATS is connected (a write queued while disconnected could land after the lease ran out)."""
        if not self.held:
            raise NotLeaderError("this node does not hold the leader lease")
        if not self.connected():
            raise NotLeaderError("not connected to NATS: leader writes wait for the connection")

    def headers(self) -> dict[str, str]:
        """The fencing token as a message header."""
        return {TERM_HEADER: str(self.term)}

    # NATS operations ---------------------------------------------------------------------------------
    async def read(self) -> LeaseState:
        """The key's last message, classified (see the module docstring)."""
        try:
            msg = await asyncio.wait_for(self.js.get_msg(self.stream, subject=self.subject, direct=True),
                                         self.timeout_s)
        except NotFoundError:
            return LeaseState(0, True, None)
        headers = msg.headers or {}
        if is_removal(headers):
            return LeaseState(msg.seq or 0, True, None)
        try:
            record = _record_decoder.decode(msg.data or b"")
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("lease_record_unreadable", revision=msg.seq)
            record = None
        return LeaseState(msg.seq or 0, False, record)

    def _record(self, term: int) -> bytes:
        now = self.wall()
        return _encoder.encode(LeaseRecord(node_id=self.node_id, http=self.http(), term=term,
                                           acquired_at=self.acquired_at or now, renewed_at=now,
                                           instance=self.instance))

    async def _cas(self, payload: bytes, last: int, *, delete: bool = False) -> int:
        headers = {EXPECTED_LAST: str(last)}
        if delete:
            headers[KV_OPERATION] = "DEL"
        try:
            ack = await self.js.publish(self.subject, payload, timeout=self.timeout_s, headers=headers)
        except APIError as exc:
            if exc.err_code in WRONG_LAST_SEQUENCE:
                raise LeaseConflict(exc.description or "wrong last sequence") from None
            raise
        return ack.seq

    async def acquire(self, state: LeaseState) -> bool:
        """Take the lease if ``state`` (just read) says it is free, or if it is this process's own record
        (a write whose answer was lost). True when this node now leads; raises on NATS trouble."""
        own = state.record is not None and state.record.instance == self.instance
        if not (state.free or own) or not self.connected():
            return False
        async with self._lock:
            return await self._acquire(state)

    async def _acquire(self, state: LeaseState) -> bool:
        sent = self.clock()
        self.acquired_at = self.wall()
        try:
            revision = await self._cas(self._record(0), state.revision)
        except LeaseConflict:
            self.acquired_at = 0.0
            return False
        self.term = self.revision = revision
        self.valid_until = sent + self.ttl_s - self.margin_s
        log.info("lease_acquired", term=self.term, ttl_s=self.ttl_s, previous_revision=state.revision)
        return True

    async def renew(self) -> bool:
        """Extend the lease (writing the term into the record). False when another node holds it now;
        raises on NATS trouble (the caller retries until the local validity runs out)."""
        async with self._lock:
            return await self._renew()

    async def _renew(self) -> bool:
        if not self.term:
            return False
        if not self.connected():
            raise ConnectionError("not connected to NATS")
        sent = self.clock()
        try:
            revision = await self._cas(self._record(self.term), self.revision)
        except LeaseConflict:
            log.warning("lease_lost", term=self.term, reason="taken")
            self.drop()
            return False
        self.revision = revision
        self.valid_until = sent + self.ttl_s - self.margin_s
        return True

    async def release(self) -> None:
        """Give the lease up at once (a tombstone, compare-and-set on our revision); errors are logged."""
        async with self._lock:
            await self._release()

    async def _release(self) -> None:
        if not self.term:
            return
        revision, term = self.revision, self.term
        self.drop()
        try:
            await self._cas(b"", revision, delete=True)
        except Exception as exc:  # conflict, timeout, connection: the lease then simply expires
            log.warning("lease_release_failed", term=term, error=f"{type(exc).__name__}: {exc}")
            return
        log.info("lease_released", term=term)

    def drop(self) -> None:
        """Forget the lease locally (lost, expired or released): the fence closes at once."""
        self.term = 0
        self.revision = 0
        self.valid_until = 0.0
        self.acquired_at = 0.0


__all__ = ["LEASE_KEY", "LeaderLease", "LeaseRecord", "LeaseState"]
