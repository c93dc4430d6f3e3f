"""The dead-letter queue: rejected input copied unchanged to ``eq.<region>.dlq`` with its reason.

The payload is copied byte for byte; the original headers are kept, plus ``Eq-Reject-Reason`` (a
constant of :class:`~equilibrium_node.errors.Reject`), ``Eq-Source-Subject`` and
``Eq-Source-Seq`` (where the message was in the location stream). ``Nats-Msg-Id`` becomes
``<stream>:<seq>`` (the original id, if any, moves to ``Eq-Original-Msg-Id``), so that a batch
re-read after a crash does not store its rejects twice within the DLQ stream's duplicate window.

:meth:`DeadLetters.publish` returns once the DLQ stream acknowledged every copy, retrying for up to
``give_up_after_s``: the intake applies a batch, and so lets a checkpoint cover it, only after its
rejects are stored. A copy may be stored twice only if the node crashes and re-reads the batch after
the DLQ's duplicate window (2 minutes by default). If the DLQ stream stays unreachable (deleted,
misconfigured) the copies are given up, logged and counted (``eq_dlq_lost_total``) rather than
stalling the market: a bad message must never stop the consumer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from ..logs import get_logger
from ..messages import MSG_ID_HEADER, REJECT_HEADER

log = get_logger(__name__)

SOURCE_SUBJECT_HEADER = "Eq-Source-Subject"
SOURCE_SEQ_HEADER = "Eq-Source-Seq"
ORIGINAL_ID_HEADER = "Eq-Original-Msg-Id"


class DeadLetterAborted(Exception):
    """The intake stopped while rejects could not be stored; the batch must not be applied."""


def dlq_headers(msg: Msg, reason: str, stream: str, seq: int) -> dict[str, str]:
    """Headers of a rejected message's DLQ copy."""
    headers = dict(msg.headers or {})
    original = headers.pop(MSG_ID_HEADER, None)
    if original is not None:
        headers[ORIGINAL_ID_HEADER] = original
    headers[REJECT_HEADER] = reason
    headers[SOURCE_SUBJECT_HEADER] = msg.subject
    headers[SOURCE_SEQ_HEADER] = str(seq)
    headers[MSG_ID_HEADER] = f"{stream}:{seq}"
    return headers


class DeadLetters:
    """Publishes rejects to the DLQ subject and waits for the stream's acknowledgements."""

    def __init__(self, js: JetStreamContext, subject: str, source_stream: str, *, timeout_s: float = 5.0,
                 give_up_after_s: float = 15.0, stopping: Callable[[], bool] = lambda: False) -> None:
        self.js = js
        self.subject = subject
        self.source_stream = source_stream
        self.timeout_s = timeout_s
        self.give_up_after_s = give_up_after_s
        self.stopping = stopping
        self.published = 0
        self.lost = 0

    async def _round(self, todo: list[tuple[bytes, dict[str, str]]]) -> tuple[list, str]:
        futures: list = []
        for data, headers in todo:
            try:
                futures.append(await self.js.publish_async(self.subject, data, headers=headers))
            except Exception as exc:  # stalled or disconnected: retried by the caller
                futures.append(exc)
        failed, error = [], ""
        for item, fut in zip(todo, futures, strict=True):
            if isinstance(fut, BaseException):
                failed.append(item)
                error = f"{type(fut).__name__}: {fut}"
                continue
            try:
                await asyncio.wait_for(fut, self.timeout_s)
            except Exception as exc:
                failed.append(item)
                error = f"{type(exc).__name__}: {exc}"
        return failed, error

    async def publish(self, rejects: Sequence[tuple[Msg, int, str]]) -> int:
        """Store ``(message, stream seq, reason)`` copies; returns how many had to be given up (normally 0).

        Raises :class:`DeadLetterAborted` when the intake stops while copies are still unstored.
        """
        todo = [(msg.data, dlq_headers(msg, reason, self.source_stream, seq)) for msg, seq, reason in rejects]
        deadline = time.monotonic() + self.give_up_after_s
        delay = 0.1
        while todo:
            failed, error = await self._round(todo)
            self.published += len(todo) - len(failed)
            todo = failed
            if not todo:
                break
            if self.stopping():
                raise DeadLetterAborted(f"{len(todo)} rejects not stored in the DLQ")
            if time.monotonic() > deadline:
                self.lost += len(todo)
                log.error("dlq_copies_lost", count=len(todo), subject=self.subject, error=error)
                return len(todo)
            log.warning("dlq_publish_retry", count=len(todo), error=error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        return 0
