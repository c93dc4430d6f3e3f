"""Checkpoints of the market state in KV ``eq_<region>_state``: two slots, chunks first, manifest last.

Layout (keys of the bucket, history 1):

- ``ckpt.a.0`` ... ``ckpt.a.<n-1>``: the snapshot bytes (:mod:`.snapshot`) cut into chunks of at most
  ``market.checkpoint_chunk_bytes`` (a KV value must fit in one NATS message);
- ``ckpt.a.manifest``: JSON ``{format, slot, seq, clock, chunks, bytes, sha256, written_at, node_id,
  drivers, riders}``, the stream sequence the snapshot includes and a hash of all its chunks;
- the same under ``ckpt.b.``.

A checkpoint goes to the slot that does *not* hold the newest complete one: its manifest is deleted,
its chunks are written, then its manifest, last. A crash at any point leaves the other slot intact,
and a slot whose chunks do not match its manifest (size or SHA-256) is simply not used. Loading
reads both manifests and takes the newest slot that verifies; keys never multiply (two slots are
rewritten in turn), so the bucket stays at about twice the state's size.

The stream sequence travels *inside* the checkpoint with the state it produced, so resuming from
``seq + 1`` applies every event exactly once: the events up to ``seq`` are in the state, the others
are read again from the stream.

**Fencing** (issue 8: only the region's leader writes checkpoints). Every write is checked twice:

- by ``fence`` before it is sent (the leader lease's local validity: a deposed leader refuses itself);
- on the server, by compare-and-set: each key (manifests, chunks, their deletions) is written with
  ``Nats-Expected-Last-Subject-Sequence`` = the revision this store last saw for it (read once per key
  and term, then taken from its own acknowledgements). Once another node has written a key, a late
  write of a deposed leader (a paused process, a buffer flushed after a reconnect) fails with
  :class:`~equilibrium_node.errors.WriteConflictError` instead of overwriting the newer checkpoint.
  The store then forgets every revision it knew; the next attempt reads them again.

The manifest also records the writer's lease ``term`` (the fencing token) and ``node_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable

import msgspec
from nats.js.errors import APIError, KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from ..bus.kv_wire import WRONG_LAST_SEQUENCE
from ..errors import NotLeaderError, WriteConflictError
from ..faults import FAULTS, Faults
from ..logs import get_logger
from ..metrics import Metrics
from .snapshot import SnapshotError, decode, encode
from .state import MarketState

log = get_logger(__name__)

SLOTS = ("a", "b")


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    """What a slot holds; written after its chunks."""

    format: int = 1
    slot: str
    seq: int
    clock: float
    chunks: int
    bytes: int
    sha256: str
    written_at: float
    node_id: str = ""
    term: int = 0
    drivers: int = 0
    riders: int = 0


_manifest_decoder = msgspec.json.Decoder(Manifest)
_encoder = msgspec.json.Encoder()


def manifest_key(slot: str) -> str:
    """KV key of a slot's manifest."""
    return f"ckpt.{slot}.manifest"


def chunk_key(slot: str, index: int) -> str:
    """KV key of a slot's chunk."""
    return f"ckpt.{slot}.{index}"


class CheckpointStore:
    """Reads and writes checkpoints in the state bucket; writes are fenced (see the module docstring)."""

    def __init__(self, kv: KeyValue, *, chunk_bytes: int = 512 * 1024, node_id: str = "",
                 faults: Faults = FAULTS, fence: Callable[[], None] | None = None,
                 term: Callable[[], int] | None = None) -> None:
        self.kv = kv
        self.chunk_bytes = chunk_bytes
        self.node_id = node_id
        self.faults = faults
        #: raises (NotLeaderError) when this node may not write; None: always allowed
        self.fence = fence
        #: the writer's lease term, recorded in manifests
        self.term = term
        self.manifests: dict[str, Manifest | None] = {}
        #: latest revision seen per key (0: no message); what compare-and-set expects
        self.revisions: dict[str, int] = {}

    async def _get(self, key: str) -> bytes | None:
        try:
            entry = await self.kv.get(key)
        except (KeyNotFoundError, KeyDeletedError) as exc:
            # a deleted key still has a revision (its tombstone's), which compare-and-set must name
            tombstone = getattr(exc, "entry", None)
            self.revisions[key] = tombstone.revision if tombstone is not None else 0
            return None
        self.revisions[key] = entry.revision
        return entry.value

    async def read_manifests(self) -> dict[str, Manifest | None]:
        """Both slots' manifests (None: absent or unreadable)."""
        out: dict[str, Manifest | None] = {}
        for slot in SLOTS:
            raw = await self._get(manifest_key(slot))
            try:
                out[slot] = _manifest_decoder.decode(raw) if raw else None
            except (msgspec.DecodeError, msgspec.ValidationError):
                out[slot] = None
        self.manifests = out
        return out

    async def read_slot(self, manifest: Manifest) -> bytes | None:
        """The slot's snapshot bytes, or None when its chunks do not match the manifest."""
        parts = []
        for index in range(manifest.chunks):
            part = await self._get(chunk_key(manifest.slot, index))
            if part is None:
                return None
            parts.append(part)
        raw = b"".join(parts)
        if len(raw) != manifest.bytes or hashlib.sha256(raw).hexdigest() != manifest.sha256:
            return None
        return raw

    async def load(self) -> tuple[bytes, Manifest] | None:
        """The newest complete checkpoint (bytes and manifest), or None."""
        manifests = await self.read_manifests()
        for manifest in sorted((m for m in manifests.values() if m), key=lambda m: m.seq, reverse=True):
            raw = await self.read_slot(manifest)
            if raw is not None:
                return raw, manifest
            log.warning("checkpoint_slot_incomplete", slot=manifest.slot, seq=manifest.seq)
        return None

    def _next_slot(self) -> str:
        valid = [m for m in self.manifests.values() if m is not None]
        if not valid:
            return SLOTS[0]
        newest = max(valid, key=lambda m: m.seq)
        return SLOTS[1] if newest.slot == SLOTS[0] else SLOTS[0]

    # fenced writes ----------------------------------------------------------------------------------
    async def _expected(self, key: str) -> int:
        if key not in self.revisions:
            await self._get(key)
        return self.revisions[key]

    def _conflict(self, key: str, error: Exception) -> WriteConflictError:
        self.revisions.clear()  # somebody else wrote: read everything again next time
        self.manifests = {}
        log.warning("checkpoint_write_conflict", key=key, error=str(error))
        return WriteConflictError(f"checkpoint key {key} was written by another node")

    async def _put(self, key: str, value: bytes) -> None:
        if self.fence is not None:
            self.fence()
        last = await self._expected(key)
        try:
            self.revisions[key] = await self.kv.update(key, value, last=last)
        except KeyWrongLastSequenceError as exc:
            raise self._conflict(key, exc) from None

    async def _delete(self, key: str) -> None:
        if self.fence is not None:
            self.fence()
        last = await self._expected(key)
        if last == 0:
            return  # nothing there
        try:
            await self.kv.delete(key, last=last)
        except APIError as exc:
            if exc.err_code in WRONG_LAST_SEQUENCE:
                raise self._conflict(key, exc) from None
            raise
        self.revisions.pop(key, None)  # the tombstone's revision is read when the key is written next

    async def write(self, raw: bytes, *, seq: int, clock: float, drivers: int = 0, riders: int = 0) -> Manifest:
        """Write ``raw`` as a checkpoint including stream sequence ``seq``; returns its manifest.

        Raises :class:`NotLeaderError` when the fence refuses, :class:`WriteConflictError` when another node
        wrote one of the keys since this store last saw it.
        """
        if not self.manifests:
            await self.read_manifests()
        slot = self._next_slot()
        previous = self.manifests.get(slot)
        await self._delete(manifest_key(slot))
        self.manifests[slot] = None
        size = self.chunk_bytes
        chunks = max(1, -(-len(raw) // size))
        for index in range(chunks):
            await self._put(chunk_key(slot, index), raw[index * size:(index + 1) * size])
            self.faults.hit("checkpoint_chunk")
        manifest = Manifest(slot=slot, seq=seq, clock=clock, chunks=chunks, bytes=len(raw),
                            sha256=hashlib.sha256(raw).hexdigest(), written_at=time.time(), node_id=self.node_id,
                            term=self.term() if self.term is not None else 0, drivers=drivers, riders=riders)
        await self._put(manifest_key(slot), _encoder.encode(manifest))
        self.faults.hit("checkpoint_manifest")
        self.manifests[slot] = manifest
        if previous is not None:  # a smaller checkpoint leaves no stray chunks behind
            for index in range(chunks, previous.chunks):
                await self._delete(chunk_key(slot, index))
        return manifest


def refuse_writes() -> None:
    """The fence of a read-only store (a follower loading the newest checkpoint)."""
    raise NotLeaderError("this node is not the leader: checkpoints are read-only here")


class Checkpointer:
    """Restores the state at start, checkpoints it every interval and at shutdown (a node service).

    With ``enabled=False`` (a follower tailing the stream read-only) it neither loads nor writes.
    """

    name = "market"

    def __init__(self, state: MarketState, store: CheckpointStore, *, interval_s: float, metrics: Metrics,
                 enabled: bool = True) -> None:
        self.state = state
        self.store = store
        self.interval_s = interval_s
        self.metrics = metrics
        self.enabled = enabled
        self.last_seq = -1
        self.written = 0
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()

    async def load(self, *, stream_last_seq: int | None = None) -> int:
        """Restore the newest complete checkpoint; returns the stream sequence it includes (0: none).

        A checkpoint *ahead* of the stream (the stream was deleted and recreated) is ignored: its
        sequences no longer name the same events.
        """
        if not self.enabled:
            return 0
        found = await self.store.load()
        if found is None:
            log.info("checkpoint_none")
            return 0
        raw, manifest = found
        try:
            snap = decode(raw)
        except SnapshotError as exc:
            log.error("checkpoint_unreadable", slot=manifest.slot, error=str(exc))
            return 0
        if stream_last_seq is not None and snap.seq > stream_last_seq:
            log.error("checkpoint_ahead_of_stream", seq=snap.seq, stream_last_seq=stream_last_seq)
            return 0
        self.state.restore(snap)
        self.last_seq = snap.seq
        self.metrics.checkpoint_seq.set(snap.seq)
        self.metrics.stream_applied_seq.set(snap.seq)
        log.info("checkpoint_loaded", slot=manifest.slot, seq=snap.seq, bytes=manifest.bytes,
                 drivers=len(snap.drivers), riders=len(snap.riders))
        return snap.seq

    async def checkpoint(self, *, force: bool = False) -> bool:
        """Write a checkpoint if anything was applied since the last one; True when written."""
        if not self.enabled:
            return False
        async with self._lock:
            if not force and self.state.applied_seq == self.last_seq:
                return False
            started = time.perf_counter()
            snap = self.state.snapshot()
            raw = encode(snap)  # the live records are encoded before any await: one consistent cut
            seq, clock, drivers, riders = snap.seq, snap.clock, len(snap.drivers), len(snap.riders)
            del snap
            manifest = await self.store.write(raw, seq=seq, clock=clock, drivers=drivers, riders=riders)
            self.last_seq = manifest.seq
            self.written += 1
            self.metrics.checkpoint_seq.set(manifest.seq)
            self.metrics.checkpoint_seconds.observe(time.perf_counter() - started)
            log.info("checkpoint_written", slot=manifest.slot, seq=manifest.seq, bytes=manifest.bytes,
                     chunks=manifest.chunks)
            return True

    async def run(self) -> None:
        """Checkpoint every ``interval_s`` until stopped (failures are logged and retried next time)."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)
            if self._stop.is_set():
                break
            try:
                await self.checkpoint()
            except NotLeaderError as exc:
                self.metrics.fenced_writes.labels(writer="checkpoint").inc()
                log.info("checkpoint_refused", reason=exc.message)
            except Exception as exc:
                log.warning("checkpoint_failed", error=f"{type(exc).__name__}: {exc}")

    async def stop(self) -> None:
        """The final checkpoint (after the intake stopped), then end :meth:`run`."""
        if self._stop.is_set():
            return
        self._stop.set()
        try:
            await self.checkpoint()
        except NotLeaderError as exc:  # a deposed leader stops without writing: the new leader owns the state
            self.metrics.fenced_writes.labels(writer="checkpoint").inc()
            log.info("checkpoint_final_skipped", reason=exc.message)
        except Exception as exc:
            log.error("checkpoint_final_failed", error=f"{type(exc).__name__}: {exc}")

