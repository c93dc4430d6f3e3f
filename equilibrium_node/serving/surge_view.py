"""The served prices: an in-memory mirror of KV ``eq_<region>_surge``, kept current by a watch.

Every node (leader or follower) serves quotes, heatmaps and streams from this view, never from the
pricing engine's memory, so all nodes answer alike. The watch is an ordered push consumer with a
callback (no per-message task or queue): the initial replay delivers the latest value per key, then
each change as it is written. Listeners (the stream hub) are called synchronously per entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import NamedTuple

import msgspec
from nats.js import JetStreamContext, api

from ..bus.kv_wire import is_removal
from ..logs import get_logger
from ..messages import TERM_HEADER, SurgeUpdate, split_surge_key, surge_update_decoder

log = get_logger(__name__)


class SurgeEntry(NamedTuple):
    """One served multiplier: the update, its KV revision, the raw JSON (re-used when forwarding) and the
    lease term of the leader that wrote it (0: written without one)."""

    update: SurgeUpdate
    revision: int
    raw: bytes
    term: int = 0


def header_term(headers: dict[str, str]) -> int:
    """The ``Eq-Leader-Term`` of a message's headers (0 when absent or malformed)."""
    value = headers.get(TERM_HEADER)
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


Listener = Callable[[str, "SurgeEntry | None"], None]


class SurgeView:
    """Latest surge update per ``<cell>.<vehicle_type>`` key."""

    name = "surge_view"

    def __init__(self, js: JetStreamContext, bucket: str) -> None:
        self.js = js
        self.bucket = bucket
        self.entries: dict[str, SurgeEntry] = {}
        self.revision = 0
        #: KV revision of the change being delivered to listeners (the only way a listener learns the
        #: revision of a deletion, whose entry is None)
        self.entry_revision = 0
        self.loaded = asyncio.Event()
        self.last_change_monotonic = 0.0
        self.rejected = 0
        self._listeners: list[Listener] = []
        self._sub = None
        self._stopped = asyncio.Event()
        self._prefix = f"$KV.{bucket}."

    def get(self, cell: str, vehicle_type: str) -> SurgeEntry | None:
        """The served update of a cell for a vehicle type."""
        return self.entries.get(f"{cell}.{vehicle_type}")

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(key, entry)`` on every change (``entry`` None when a key is deleted)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener`` (no error when it is not registered)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _on_entry(self, key: str, raw: bytes, revision: int, deleted: bool, term: int = 0) -> None:
        self.revision = max(self.revision, revision)
        self.last_change_monotonic = time.monotonic()
        entry: SurgeEntry | None
        if deleted:
            entry = None
            self.entries.pop(key, None)
        else:
            try:
                update = surge_update_decoder.decode(raw)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                self.rejected += 1
                log.warning("surge_entry_rejected", key=key, error=str(exc))
                return
            cell, vehicle_type = split_surge_key(key)
            if update.cell != cell or update.vehicle_type != vehicle_type:
                self.rejected += 1
                log.warning("surge_entry_key_mismatch", key=key)
                return
            entry = SurgeEntry(update, revision, raw, term)
            self.entries[key] = entry
        self.entry_revision = revision
        for listener in self._listeners:
            listener(key, entry)

    async def start(self) -> None:
        """Subscribe; :attr:`loaded` is set once the initial values have arrived."""
        prefix_len = len(self._prefix)

        async def on_msg(msg) -> None:
            headers = msg.headers or {}
            deleted = is_removal(headers)
            meta = msg.metadata
            self._on_entry(msg.subject[prefix_len:], msg.data, meta.sequence.stream, deleted, header_term(headers))
            if meta.num_pending == 0 and not self.loaded.is_set():
                self.loaded.set()

        self._sub = await self.js.subscribe(
            f"{self._prefix}>", stream=f"KV_{self.bucket}", cb=on_msg, ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT, inactive_threshold=300.0,
            pending_msgs_limit=-1, pending_bytes_limit=-1)
        info = await self._sub.consumer_info()
        if info.num_pending == 0 and self._sub.delivered == 0:
            self.loaded.set()

    async def run(self) -> None:
        """Keep the subscription until stopped."""
        if self._sub is None:
            await self.start()
        await self._stopped.wait()

    async def stop(self) -> None:
        """Unsubscribe."""
        self._stopped.set()
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
