"""The role controller: keeps or seeks the leader lease and runs the leader's or the follower's services.

Two loops run side by side (so the lease is renewed while a role's services start or stop):

- **the lease loop.** As a follower it reads the lease every ``poll_s`` (a sixth of the TTL, at most
  0.5 s): a new revision is a renewal by the leader, the evidence of a live leader that degraded
  mode reads (``status.last_pricing_monotonic``); a free lease is taken at once. As the leader it
  renews every ``lease_ttl_s / 3`` (the node passes half of ``pricing.stale_after_s`` when that is
  shorter, so followers always see a renewal in time), retrying every ``poll_s`` after an error, and gives the lease up
  when a renewal finds another holder or when its local validity runs out (NATS unreachable).
- **the role loop.** When the wanted role changes it stops the running services (in their order) and
  builds the other role's services from the node's factories: the leader's (restore the newest
  checkpoint, consume from its sequence, price, checkpoint, ...) or the follower's (tail the stream
  read-only). A leader that lost its lease stops without writing: its fence is already closed, so the
  final checkpoint and every other write are refused. A leader whose services fail to start releases
  the lease and keeps off it for one TTL, so another node can take it.

At shutdown (:meth:`stop`), a leader stops its services in order (intake, pricing, final checkpoint,
...) while the lease is still renewed, then releases the lease so that a follower takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from ..logs import get_logger
from ..metrics import Metrics
from ..service import Service
from ..status import NodeStatus
from .lease import LeaderLease, LeaseState
from .term import Term

log = get_logger(__name__)

RoleName = Literal["leader", "follower"]
TermFactory = Callable[[], Awaitable[Sequence[Service]]]


class RoleController:
    """Leader election and role switching of one node (a node service)."""

    name = "cluster"

    def __init__(self, lease: LeaderLease, status: NodeStatus, metrics: Metrics, *, leader: TermFactory,
                 follower: TermFactory, poll_s: float | None = None, renew_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic, stop_timeout_s: float = 10.0) -> None:
        self.lease = lease
        self.status = status
        self.metrics = metrics
        self.factories: dict[RoleName, TermFactory] = {"leader": leader, "follower": follower}
        self.renew_s = min(lease.ttl_s / 3, renew_s) if renew_s is not None else lease.ttl_s / 3
        self.poll_s = poll_s if poll_s is not None else min(0.5, lease.ttl_s / 6)
        self.clock = clock
        self.stop_timeout_s = stop_timeout_s
        self.want: RoleName = "follower"
        self.term: Term | None = None
        #: set once the first look at the lease decided how this node starts
        self.decided = asyncio.Event()
        #: set once the first role's services run (or failed to start): the node is then ready to report
        self.started = asyncio.Event()
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._closing = False
        self._hold_off_until = 0.0
        self._highest_seen = 0
        self._read_failing = False
        self._tasks: list[asyncio.Task] = []
        self._renewals = {r: metrics.lease_renewals.labels(result=r) for r in ("ok", "error", "lost")}

    # service -----------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Run both loops until stopped; a crash of a role's service is raised from here."""
        self._tasks = [asyncio.create_task(self._lease_loop(), name="cluster-lease"),
                       asyncio.create_task(self._role_loop(), name="cluster-roles")]
        try:
            await asyncio.gather(*self._tasks)
        finally:
            for task in self._tasks:
                task.cancel()
            if self.term is not None and not self._closing:  # cancelled with the node: no orphaned services
                for task in self.term.tasks:
                    task.cancel()

    async def stop(self) -> None:
        """Stop the running role's services in order, release the lease if held, end the loops."""
        if self._closing:
            return
        self._closing = True
        self._changed.set()
        self._wake.set()
        if len(self._tasks) == 2:
            await asyncio.wait([self._tasks[1]])  # the role loop finishes a switch under way, then ends
        term, self.term = self.term, None
        if term is not None:
            log.info("role_stopping", role=term.role)
            await term.stop(self.stop_timeout_s)
        if self.lease.term:
            await self.lease.release()
            self.metrics.leader_changes.labels(event="released").inc()
        self.status.leader_id, self.status.leader_term = "", 0
        self.metrics.leader_term.set(0)
        self._wake.set()
        if self._tasks:
            await asyncio.wait([self._tasks[0]], timeout=2.0)

    # the lease loop ----------------------------------------------------------------------------------
    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, seconds))

    async def _lease_loop(self) -> None:
        lease = self.lease
        next_renewal = 0.0
        while True:
            if lease.term:
                if not lease.held:  # no renewal got through within the local validity
                    log.warning("lease_lost", term=lease.term, reason="expired")
                    self._renewals["lost"].inc()
                    lease.drop()
                    self._set_want("follower", "lease expired")
                    continue
                wait = next_renewal - self.clock()
                if wait > 0:
                    await self._sleep(min(wait, lease.remaining_s()))
                    continue
                try:
                    renewed = await lease.renew()
                except Exception as exc:  # NATS trouble: retry soon, until the validity runs out
                    self._renewals["error"].inc()
                    log.warning("lease_renew_failed", term=lease.term, remaining_s=round(lease.remaining_s(), 2),
                                error=f"{type(exc).__name__}: {exc}")
                    next_renewal = self.clock() + self.poll_s
                    continue
                if renewed:
                    self._renewals["ok"].inc()
                    next_renewal = self.clock() + self.renew_s
                    self._seen_leader(self.status.node_id, lease.term)
                else:
                    self._renewals["lost"].inc()
                    self._set_want("follower", "lease taken")
                continue
            if self._closing:
                return
            if await self._follow_once():
                next_renewal = self.clock()  # write the term into the record right away
                continue
            self.decided.set()
            await self._sleep(self.poll_s)

    async def _follow_once(self) -> bool:
        """Read the lease, note the evidence, take it when free; True when this node now leads."""
        lease = self.lease
        try:
            state = await lease.read()
        except Exception as exc:
            if not self._read_failing:
                log.warning("lease_read_failed", error=f"{type(exc).__name__}: {exc}")
            self._read_failing = True
            return False
        self._read_failing = False
        self._observe(state)
        if self._closing or self.clock() < self._hold_off_until:
            return False
        try:
            won = await lease.acquire(state)
        except Exception as exc:
            log.warning("lease_acquire_failed", error=f"{type(exc).__name__}: {exc}")
            return False
        if won:
            self._seen_leader(self.status.node_id, lease.term)
            self._set_want("leader", "lease acquired")
            self.decided.set()
        return won

    def _observe(self, state: LeaseState) -> None:
        if state.free:
            self._seen_leader("", 0)
            return
        if state.revision > self._highest_seen:  # a renewal (or a new leader): the leader is alive
            self._highest_seen = state.revision
            self.status.last_pricing_monotonic = time.monotonic()
        self._seen_leader(state.record.node_id if state.record is not None else "?", state.term)

    def _seen_leader(self, node_id: str, term: int) -> None:
        self.status.leader_id, self.status.leader_term = node_id, term
        self.metrics.leader_term.set(term)

    def _set_want(self, role: RoleName, reason: str) -> None:
        if role == self.want:
            return
        self.want = role
        self.metrics.leader_changes.labels(event="acquired" if role == "leader" else "lost").inc()
        if role == "follower":
            self._seen_leader("", 0)  # who leads now is known at the next read of the lease
        if self.status.role != "stopping":
            self.status.role = role
        log.info("role_change", role=role, reason=reason, term=self.lease.term)
        self._changed.set()

    # the role loop -----------------------------------------------------------------------------------
    async def _role_loop(self) -> None:
        await self._wait(self.decided)
        while not self._closing:
            want = self.want
            if self.term is None or self.term.role != want:
                await self._switch(want)
                continue
            term = self.term
            changed = asyncio.create_task(self._changed.wait())
            failed = asyncio.create_task(term.wait_failure())
            try:
                done, _ = await asyncio.wait({changed, failed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
                failed.cancel()
            if failed in done and not failed.cancelled():
                error = failed.result()
                log.error("role_service_failed", role=term.role, error=f"{type(error).__name__}: {error}")
                raise error
            self._changed.clear()

    async def _wait(self, event: asyncio.Event) -> None:
        while not event.is_set() and not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), 0.5)

    async def _switch(self, want: RoleName) -> None:
        old, self.term = self.term, None
        if old is not None:
            log.info("role_stopping", role=old.role)
            await old.stop(self.stop_timeout_s)
        if self.status.role == "starting":  # the first decision; later changes are set by _set_want only
            self.status.role = self.want
        try:
            services = await self.factories[want]()
        except Exception as exc:
            self.started.set()
            log.error("role_start_failed", role=want, error=f"{type(exc).__name__}: {exc}")
            if want == "leader":  # let another node lead; try again after a TTL at the earliest
                self._hold_off_until = self.clock() + self.lease.ttl_s
                await self.lease.release()
                self.metrics.leader_changes.labels(event="released").inc()
                self._set_want("follower", "leader services failed to start")
            await self._sleep(self.poll_s)
            return
        term = Term(want, services)
        term.start()
        self.started.set()
        if self._closing:  # stop() began while this role was being built: hand it over to stop()
            self.term = term
            return
        self.term = term
        log.info("role_started", role=want, services=[s.name for s in services], term=self.lease.term)


__all__ = ["RoleController", "TermFactory"]
