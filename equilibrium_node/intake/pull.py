"""A hand-rolled JetStream pull loop into a callback inbox: the intake's consumption mechanism.

Why not ``PullSubscription.fetch()``: nats-py 2.16 moves every fetched message through
``next_msg()`` (a Task, a uuid4 and a ``wait_for`` each), about 9k msg/s on one core. Why not the
ordered push consumer (about 61k msg/s, the other fast path in the notes): its flow control only
counts messages handed to the callback, so a callback that buffers gives the server no back-pressure,
and its gap handling recreates the consumer from a background task we cannot observe. A pull loop
is as fast (65k msg/s measured with AckNone) and we own every part of it:

- one ephemeral consumer per *generation*: AckNone (the checkpoint, not an ack, records progress),
  ``DeliverByStartSequence`` from the next sequence to apply, memory storage, R1, and an
  ``inactive_threshold`` so that a consumer left behind by a SIGKILLed node disappears by itself;
- ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`` requests with ``batch``, ``expires`` and
  ``idle_heartbeat``, replied to an inbox whose subscription has a callback (no Task per message);
- a new request once half of what was asked has arrived, and only while the buffer has room: the
  server never sends more than ``max_buffer`` messages ahead of the state (bounded memory);
- each message's stream sequence, consumer sequence, timestamp and pending count come from its
  ``$JS.ACK...`` reply subject (one ``str.split``), never from a JSON API call;
- a consumer-sequence gap, a missed heartbeat (no message nor heartbeat for two intervals while a
  request is open), a reconnect of the client, a 503 (no responders: the consumer is gone, e.g. the
  server restarted) or a 409 "consumer deleted" starts a new generation from the last received
  stream sequence + 1 on a fresh inbox, so stale deliveries of the old one are ignored and nothing
  is delivered twice or skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from ..logs import get_logger

log = get_logger(__name__)

#: Token positions in ``$JS.ACK`` reply subjects: v1 has 9 tokens, v2 (domain + account hash) 11-12.
_V1_TOKENS = 9


def parse_reply(reply: str) -> tuple[int, int, int, int]:
    """``(stream_seq, consumer_seq, timestamp_ns, num_pending)`` of a JetStream delivery's reply subject."""
    tokens = reply.split(".")
    b = 5 if len(tokens) == _V1_TOKENS else 7
    return int(tokens[b]), int(tokens[b + 1]), int(tokens[b + 2]), int(tokens[b + 3])


class PullConsumer:
    """Consumes a stream from a start sequence into a buffer the caller drains with :meth:`take`."""

    def __init__(self, nc: Client, js: JetStreamContext, stream: str, filter_subject: str, *, start_seq: int,
                 batch: int = 2000, max_buffer: int = 20_000, expires_s: float = 30.0, heartbeat_s: float = 5.0,
                 inactive_threshold_s: float = 60.0, name_prefix: str = "eqi") -> None:
        self.nc, self.js = nc, js
        self.stream, self.filter_subject = stream, filter_subject
        self.batch = batch
        self.max_buffer = max(max_buffer, 2 * batch)
        self.expires_s, self.heartbeat_s = expires_s, heartbeat_s
        self.inactive_threshold_s = inactive_threshold_s
        self.name_prefix = name_prefix
        #: last stream sequence received (buffered or applied); the next generation starts after it
        self.last_seq = max(0, start_seq - 1)
        #: messages in the stream after the newest one received (from its reply subject)
        self.pending = 0
        self.generations = 0
        #: generations started after the first, by reason (gap, reconnect, missed_heartbeat, status_503, ...)
        self.resets: dict[str, int] = {}
        self._msgs: list[Msg] = []
        self._seqs: list[int] = []
        self._ts_ns: list[int] = []
        self._outstanding = 0
        self._dseq = 0
        self._gen = 0
        self._consumer = ""
        self._inbox = ""
        self._sub: Any = None
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._take_at = batch
        self._last_activity = time.monotonic()
        self._reconnects = 0
        self._stopping = False
        self._resetting: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None

    # public ---------------------------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        """Messages received and not yet taken."""
        return len(self._msgs)

    @property
    def caught_up(self) -> bool:
        """Nothing buffered and nothing left in the stream after the newest received message."""
        return not self._msgs and self.pending == 0

    async def start(self, pending_hint: int = 0) -> None:
        """Create the first generation and start pulling; ``pending_hint`` seeds :attr:`pending`."""
        self.pending = pending_hint
        self._reconnects = self.nc.stats.get("reconnects", 0)
        await self._new_generation("start")
        self._watchdog = asyncio.create_task(self._watch(), name="intake-pull-watchdog")

    async def take(self, max_n: int, linger_s: float = 0.005) -> tuple[list[Msg], list[int], list[int]]:
        """Up to ``max_n`` buffered messages with their stream sequences and timestamps (ns), in order.

        Waits for the first message, then up to ``linger_s`` for the batch to fill, so that a busy
        stream is applied in large batches and a quiet one with little delay. Returns empty lists
        once :meth:`stop` was called and the buffer is empty.
        """
        while not self._msgs:
            if self._stopping:
                return [], [], []
            self._wake.clear()
            await self._wake.wait()
        if len(self._msgs) < max_n and linger_s > 0 and not self._stopping:
            self._take_at = max_n
            self._full.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), linger_s)
        if len(self._msgs) <= max_n:
            msgs, seqs, ts = self._msgs, self._seqs, self._ts_ns
            self._msgs, self._seqs, self._ts_ns = [], [], []
        else:
            msgs, seqs, ts = self._msgs[:max_n], self._seqs[:max_n], self._ts_ns[:max_n]
            del self._msgs[:max_n], self._seqs[:max_n], self._ts_ns[:max_n]
        if not self._stopping:
            await self._maybe_pull()
        return msgs, seqs, ts

    async def stop(self) -> None:
        """Stop pulling (what is buffered can still be taken) and delete the consumer."""
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        self._full.set()
        for task in (self._watchdog, self._resetting):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._drop_generation()

    # generations ------------------------------------------------------------------------------------
    async def _drop_generation(self) -> None:
        sub, consumer = self._sub, self._consumer
        self._sub, self._consumer = None, ""
        self._gen += 1  # deliveries of the old inbox are ignored from here on
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if consumer and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(self.stream, consumer)

    async def _new_generation(self, reason: str) -> None:
        await self._drop_generation()
        gen = self._gen
        start = self.last_seq + 1
        name = f"{self.name_prefix}_{self.nc._nuid.next().decode()}"
        config = api.ConsumerConfig(
            name=name, deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start,
            ack_policy=api.AckPolicy.NONE, filter_subject=self.filter_subject, mem_storage=True, num_replicas=1,
            inactive_threshold=self.inactive_threshold_s, max_waiting=64)
        await self.js.add_consumer(self.stream, config)
        self._consumer = name
        self._inbox = self.nc.new_inbox()

        async def on_msg(msg: Msg) -> None:
            if gen == self._gen:
                await self._on_msg(msg)

        limit = self.max_buffer + 2 * self.batch
        self._sub = await self.nc.subscribe(self._inbox, cb=on_msg, pending_msgs_limit=limit,
                                            pending_bytes_limit=0)
        self._outstanding = 0
        self._dseq = 0
        self._last_activity = time.monotonic()
        self.generations += 1
        log.info("intake_consumer_created", consumer=name, start_seq=start, reason=reason)
        await self._maybe_pull()

    async def _reset(self, reason: str) -> None:
        """Start a new generation from the last received sequence; retried until it works or we stop."""
        self.resets[reason] = self.resets.get(reason, 0) + 1
        log.warning("intake_consumer_reset", reason=reason, last_seq=self.last_seq)
        delay = 0.1
        while not self._stopping:
            try:
                await self._new_generation(reason)
                return
            except Exception as exc:  # NATS down or JetStream not ready yet: try again
                log.warning("intake_consumer_create_failed", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _schedule_reset(self, reason: str) -> None:
        if self._stopping or (self._resetting is not None and not self._resetting.done()):
            return
        self._gen += 1  # ignore whatever the old generation still delivers
        self._resetting = asyncio.create_task(self._reset(reason), name="intake-pull-reset")

    # delivery ----------------------------------------------------------------------------------------
    async def _on_msg(self, msg: Msg) -> None:
        self._last_activity = time.monotonic()
        reply = msg.reply
        if not reply:
            await self._on_status(msg)
            return
        tokens = reply.split(".")
        b = 5 if len(tokens) == _V1_TOKENS else 7
        sseq = int(tokens[b])
        dseq = int(tokens[b + 1])
        if self._outstanding > 0:
            self._outstanding -= 1
        if dseq != self._dseq + 1:
            self._schedule_reset("gap")
            return
        self._dseq = dseq
        if sseq <= self.last_seq:
            return  # already received (cannot happen within a generation; cheap to be sure)
        self.last_seq = sseq
        self.pending = int(tokens[b + 3])
        self._msgs.append(msg)
        self._seqs.append(sseq)
        self._ts_ns.append(int(tokens[b + 2]))
        n = len(self._msgs)
        if n == 1:
            self._wake.set()
        if n >= self._take_at:
            self._full.set()
        if self._outstanding <= self.batch // 2:
            await self._maybe_pull()

    async def _on_status(self, msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get("Status", "")
        if status == "100":  # idle heartbeat
            return
        description = headers.get("Description", "").lower()
        if status == "503" or "deleted" in description or "push based" in description:
            self._schedule_reset(f"status_{status or 'unknown'}")
            return
        # 404 / 408 / 409: a request ended; the server says how many of its messages were not sent
        left = headers.get("Nats-Pending-Messages")
        self._outstanding = max(0, self._outstanding - int(left)) if left and left.isdigit() else 0
        await self._maybe_pull()

    async def _maybe_pull(self) -> None:
        if self._sub is None or self._stopping or self.nc.is_closed or not self.nc.is_connected:
            return
        if self._outstanding > self.batch // 2:
            return
        room = self.max_buffer - len(self._msgs) - self._outstanding
        n = min(self.batch - self._outstanding, room)
        if n < max(1, self.batch // 4):
            return
        body = orjson.dumps({"batch": n, "expires": int(self.expires_s * 1e9),
                             "idle_heartbeat": int(self.heartbeat_s * 1e9)})
        self._outstanding += n
        try:
            await self.nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self._consumer}", body,
                                  reply=self._inbox)
        except Exception as exc:
            self._outstanding -= n
            log.warning("intake_pull_failed", error=f"{type(exc).__name__}: {exc}")

    async def _watch(self) -> None:
        """Missed heartbeats and reconnects start a new generation; a stalled loop is re-pulled."""
        while not self._stopping:
            await asyncio.sleep(min(1.0, self.heartbeat_s / 2))
            reconnects = self.nc.stats.get("reconnects", 0)
            if reconnects != self._reconnects and self.nc.is_connected:
                self._reconnects = reconnects
                self._schedule_reset("reconnect")
                continue
            silent_s = time.monotonic() - self._last_activity
            if self._outstanding > 0 and silent_s > 2 * self.heartbeat_s + 1.0 and self.nc.is_connected:
                self._schedule_reset("missed_heartbeat")
            elif self._outstanding <= self.batch // 2:
                await self._maybe_pull()
