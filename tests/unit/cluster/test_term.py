"""A role's services: started together, stopped in their declared order, a crash surfaces."""

from __future__ import annotations

import asyncio

import pytest

from equilibrium_node.cluster.term import Term


class Recorder:
    """A service that records when it stops; ``fail`` makes ``run`` raise once started."""

    def __init__(self, name: str, log: list[str], *, fail: bool = False, stuck: bool = False) -> None:
        self.name = name
        self.log = log
        self.fail = fail
        self.stuck = stuck
        self._stop = asyncio.Event()

    async def run(self) -> None:
        if self.fail:
            raise RuntimeError(f"{self.name} broke")
        if self.stuck:
            await asyncio.Event().wait()
        await self._stop.wait()
        self.log.append(f"{self.name} ended")

    async def stop(self) -> None:
        self.log.append(f"{self.name} stop")
        self._stop.set()


async def test_services_stop_in_their_declared_order():
    log: list[str] = []
    term = Term("leader", [Recorder("intake", log), Recorder("pricing", log), Recorder("market", log)])
    term.start()
    await asyncio.sleep(0)
    assert term.failure() is None
    await term.stop()
    stops = [e for e in log if e.endswith("stop")]
    assert stops == ["intake stop", "pricing stop", "market stop"]
    assert all(t.done() for t in term.tasks)
    await term.stop()  # idempotent
    assert len([e for e in log if e.endswith("stop")]) == 3


async def test_a_crashing_service_is_reported():
    log: list[str] = []
    term = Term("follower", [Recorder("intake", log, fail=True), Recorder("other", log)])
    term.start()
    error = await asyncio.wait_for(term.wait_failure(), 2)
    assert isinstance(error, RuntimeError) and "intake broke" in str(error)
    assert term.failure() is error
    await term.stop()


async def test_a_service_that_does_not_end_is_cancelled_after_the_timeout():
    log: list[str] = []
    term = Term("leader", [Recorder("stuck", log, stuck=True), Recorder("fine", log)])
    term.start()
    await asyncio.sleep(0)
    await term.stop(timeout_s=0.1)
    assert all(t.done() for t in term.tasks)
    assert "fine ended" in log


async def test_wait_failure_does_not_return_while_services_end_normally():
    log: list[str] = []
    service = Recorder("quick", log)
    term = Term("follower", [service])
    term.start()
    waiting = asyncio.create_task(term.wait_failure())
    await service.stop()
    await asyncio.sleep(0.05)
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
