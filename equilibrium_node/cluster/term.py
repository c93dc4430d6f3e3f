"""A role's services for one stretch of time (a leader's lease term, or a spell as a follower).

The role controller builds a fresh set of services each time the node's role changes, starts them
together and stops them in their declared order. A service whose ``run`` raises ends the set with
that error, which the controller re-raises: like any node service, a crash takes the node down
(the node's TaskGroup), never leaves it half working.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from ..logs import get_logger
from ..service import Service

log = get_logger(__name__)


class Term:
    """Services started together and stopped in order."""

    def __init__(self, role: str, services: Sequence[Service]) -> None:
        self.role = role
        self.services = list(services)
        self.tasks: list[asyncio.Task] = []
        self._stopped = False

    def start(self) -> None:
        """Run every service as a task."""
        self.tasks = [asyncio.create_task(svc.run(), name=f"{self.role}:{svc.name}") for svc in self.services]

    def failure(self) -> BaseException | None:
        """The error of a service that crashed (None while all run or ended normally)."""
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def wait_failure(self) -> BaseException:
        """Block until a service crashes; return its error."""
        pending = set(self.tasks)
        while pending:
            _done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            error = self.failure()
            if error is not None:
                return error
        await asyncio.Event().wait()  # every service ended normally: nothing will fail any more
        raise AssertionError("unreachable")

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the services in order, then wait for their tasks (cancelled after ``timeout_s``)."""
        if self._stopped:
            return
        self._stopped = True
        for svc in self.services:
            try:
                await svc.stop()
            except Exception as exc:  # one service failing to stop must not keep the others running
                log.error("service_stop_failed", role=self.role, service=svc.name,
                          error=f"{type(exc).__name__}: {exc}")
        if not self.tasks:
            return
        _done, pending = await asyncio.wait(self.tasks, timeout=timeout_s)
        for task in pending:
            log.warning("service_stop_timeout", role=self.role, service=task.get_name())
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


__all__ = ["Term"]
