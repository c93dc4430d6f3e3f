"""The role controller against a real nats-server, with recording services in place of the node's: the status
follows the lease even while a role is still being built, a leader whose services cannot start lets go,
shutdown stops the leader's services in order while the lease is still held and then releases it."""

from __future__ import annotations

import asyncio
import time

import msgspec

from equilibrium_node.__main__ import BUNDLED_CONFIG
from equilibrium_node.bus.names import RegionNames
from equilibrium_node.bus.provision import provision
from equilibrium_node.cluster.lease import LEASE_KEY, LeaderLease, LeaseRecord
from equilibrium_node.cluster.roles import RoleController
from equilibrium_node.metrics import Metrics
from equilibrium_node.serving.degraded import FreshnessMonitor
from equilibrium_node.settings import PricingSettings, load_settings
from equilibrium_node.status import NodeStatus

NAMES = RegionNames("sf")
TTL_S = 1.0


class Recorder:
    """A service that notes its stop and whether the lease was still held then."""

    def __init__(self, name: str, log: list, lease: LeaderLease) -> None:
        self.name = name
        self.log = log
        self.lease = lease
        self._stop = asyncio.Event()

    async def run(self) -> None:
        await self._stop.wait()

    async def stop(self) -> None:
        self.log.append((self.name, self.lease.held))
        self._stop.set()


async def until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def setup(js) -> None:
    await provision(js, load_settings(BUNDLED_CONFIG, env={"EQ_CLUSTER_LEASE_TTL_S": str(TTL_S),
                                                           "EQ_CLUSTER_HEARTBEAT_S": "0.5"}))


def controller(js, node_id: str, leader, follower) -> tuple[RoleController, LeaderLease, NodeStatus]:
    status = NodeStatus(region="sf", node_id=node_id, version="test")
    lease = LeaderLease(js, NAMES, node_id, ttl_s=TTL_S, timeout_s=1.0)
    return RoleController(lease, status, Metrics(), leader=leader, follower=follower), lease, status


async def test_the_status_follows_the_lease_while_a_role_is_still_starting(nats_client):
    _, js = nats_client
    await setup(js)
    # someone else holds the lease at first: the node starts as a follower...
    await js.publish(f"$KV.{NAMES.nodes_bucket}.{LEASE_KEY}", msgspec.json.encode(LeaseRecord(node_id="other")),
                     headers={"Nats-Expected-Last-Subject-Sequence": "0"})
    slow = asyncio.Event()
    log: list = []
    built: list[str] = []

    async def follower():
        built.append("follower")
        await slow.wait()  # ... whose services take long to build (NATS slow): the lease frees meanwhile
        return [Recorder("tail", log, lease)]

    async def leader():
        built.append("leader")
        return [Recorder("intake", log, lease)]

    roles, lease, status = controller(js, "n", leader, follower)
    task = asyncio.create_task(roles.run())
    try:
        await until(lambda: built == ["follower"], 5, "the follower role to be built")
        assert status.role == "follower" and status.leader_id == "other"
        await until(lambda: lease.held, 5, "the lease, once the other holder's expired")
        assert status.role == "leader"
        slow.set()
        await until(lambda: roles.term is not None and roles.term.role == "leader", 5, "the leader's services")
        assert status.role == "leader" and built == ["follower", "leader"]
        assert log == [("tail", True)]  # the follower's services were started, then stopped
    finally:
        await roles.stop()
        await task
    assert log[-1] == ("intake", True)  # stopped while the lease was still held, then released
    assert (await lease.read()).free and status.leader_id == ""


class SlowStop(Recorder):
    """A leader service whose stop waits for the test (a final write against a slow NATS)."""

    def __init__(self, name: str, log: list, lease: LeaderLease, release: asyncio.Event) -> None:
        super().__init__(name, log, lease)
        self.release = release

    async def stop(self) -> None:
        await self.release.wait()
        await super().stop()


async def test_the_status_follows_the_lease_while_the_old_role_is_still_stopping(nats_client):
    """The lease is lost, the leader's services take long to stop, the lease comes back meanwhile: the node must
    end up leading *and* say so (eq_leader, /readyz, heartbeats read the status)."""
    _, js = nats_client
    await setup(js)
    release = asyncio.Event()
    log: list = []

    async def leader():
        return [SlowStop("pricing", log, lease, release)]

    async def follower():
        return [Recorder("tail", log, lease)]

    roles, lease, status = controller(js, "n", leader, follower)
    task = asyncio.create_task(roles.run())
    try:
        await until(lambda: roles.term is not None and roles.term.role == "leader", 5, "the node to lead")
        first_term = lease.term
        subject = f"$KV.{NAMES.nodes_bucket}.{LEASE_KEY}"
        for _ in range(20):  # take the lease over the node's current revision (it renews now and then)
            latest = await js.get_msg(f"KV_{NAMES.nodes_bucket}", subject=subject, direct=True)
            try:
                await js.publish(subject, msgspec.json.encode(LeaseRecord(node_id="thief")),
                                 headers={"Nats-Expected-Last-Subject-Sequence": str(latest.seq)})
                break
            except Exception:
                continue
        await until(lambda: status.role == "follower", 5, "the node to step down")
        # the thief never renews: its lease expires while the node's old services are still stopping
        await until(lambda: lease.held, 5, "the lease to come back")
        assert lease.term > first_term and status.role == "leader"
        release.set()
        await until(lambda: roles.term is not None and roles.term.role == "leader" and log.count(("tail", True)),
                    5, "the node to lead again")
        assert status.role == "leader"
    finally:
        release.set()
        await roles.stop()
        await task


async def test_leader_services_that_fail_to_start_release_the_lease(nats_client):
    _, js = nats_client
    await setup(js)
    attempts = []

    async def leader():
        attempts.append(time.monotonic())
        raise RuntimeError("no checkpoint today")

    async def follower():
        return []

    roles, lease, status = controller(js, "broken", leader, follower)
    other, _other_lease, other_status = controller(js, "healthy", _services, _services)
    task = asyncio.create_task(roles.run())
    try:
        await until(lambda: attempts, 5, "a leader start")
        await until(lambda: status.role == "follower" and not lease.term, 5, "the broken node to let go")
        assert (await lease.read()).free  # released, not left to expire
        other_task = asyncio.create_task(other.run())
        try:
            await until(lambda: other_status.role == "leader", 5, "the healthy node to lead")
            assert len(attempts) == 1  # the broken node keeps off the lease for a TTL
        finally:
            await other.stop()
            await other_task
    finally:
        await roles.stop()
        await task


async def _services():
    return []


async def test_a_followers_evidence_of_a_live_leader_is_the_lease_renewal(nats_client):
    """Degraded mode on a follower: fresh while the leader renews its lease, stale once renewals stop (here the
    follower is kept from taking over, as when it cannot reach NATS well enough to)."""
    _, js = nats_client
    await setup(js)
    roles, _lease, status = controller(js, "follower", _services, _services)
    roles._hold_off_until = float("inf")  # this follower never takes over in this test
    status.bus.connected = True
    freshness = FreshnessMonitor(status, Metrics(), PricingSettings(stale_after_s=0.8, fallback_after_s=60))
    leader = LeaderLease(js, NAMES, "leader", ttl_s=TTL_S, timeout_s=1.0)
    assert await leader.acquire(await leader.read())
    renewing = True

    async def renew_forever():
        while True:
            if renewing:
                await leader.renew()
            await asyncio.sleep(0.2)

    renewer = asyncio.create_task(renew_forever())
    task = asyncio.create_task(roles.run())
    try:
        await until(lambda: status.leader_id == "leader", 5, "the follower to see the leader")
        await asyncio.sleep(1.5)  # well past stale_after_s: the renewals keep it fresh
        assert freshness.check().state == "fresh" and not status.degraded
        renewing = False  # the leader stops (or cannot reach NATS): no more renewals
        await until(lambda: freshness.check().state == "stale", 5, "stale prices on the follower")
        assert status.degraded
        await until(lambda: status.leader_id == "", 5, "the expired lease to read as free")
        renewing = True
        assert await leader.acquire(await leader.read())
        await until(lambda: freshness.check().state == "fresh", 5, "fresh again once a leader renews")
    finally:
        renewer.cancel()
        await roles.stop()
        await task
