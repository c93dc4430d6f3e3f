"""The demo's console: the page address and admin token once ready, then a one-line status every few seconds.

A status line reads (all figures over the last interval, or now)::

    demo 17:42 · traffic 668 ev/s (2 633 drivers online, 1 512 free) · ingested 671 ev/s · 131 cells priced,
    14 surging (max 2.3×) · 1 client · http://127.0.0.1:8080/

``traffic`` is what the simulated apps published, ``ingested`` what the node applied from its stream
(``eq_events_ingested_total``): the two agree when the node keeps up. ``cells priced`` counts cells
with a served multiplier (any vehicle type), ``surging`` those above 1.0 for the first vehicle type,
``clients`` the live heatmap streams (WebSocket and SSE) connected now.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import TextIO

from ..node import Node
from .publisher import DemoTraffic


def _n(value: float) -> str:
    """A count with a space between thousands (1 234)."""
    return f"{value:,.0f}".replace(",", " ")


class DemoConsole:
    """Prints the banner once the node is ready, then status lines (a node service of ``demo``)."""

    name = "demo_console"

    def __init__(self, node: Node, traffic: DemoTraffic | None, out: TextIO | None = None) -> None:
        self.node = node
        self.traffic = traffic
        self.out = out or sys.stderr
        self._stopped = asyncio.Event()
        self._last: tuple[float, float, float] | None = None  # (monotonic, sent, ingested)

    def banner(self) -> str:
        """The first lines: where the page is, the admin token, where to look next."""
        address = self.node.status.http_address
        s = self.node.settings
        return (f"\n  Equilibrium demo ({s.region_name}) is running: {address}/\n"
                f"  admin token for this session: {s.admin.token}\n"
                f"  traffic: {s.demo.drivers} drivers, {s.demo.riders_per_min:g} demand signals/min at the daily peak, "
                f"a game at Oracle Park every {s.demo.game_every_min:g} min\n"
                f"  readiness: {address}/readyz   metrics: {address}/metrics   Ctrl-C to stop\n")

    def status_line(self) -> str:
        """One line of figures (see the module doc); rates over the time since the previous line."""
        node = self.node
        m = node.metrics
        now = time.monotonic()
        ingested = sum(m.events_ingested.labels(kind=k).value for k in ("driver", "rider"))
        sent = float(sum(self.traffic.sent.values())) if self.traffic else 0.0
        last = self._last or (now - 1e-9, sent, ingested)
        self._last = (now, sent, ingested)
        elapsed = max(now - last[0], 1e-6)
        entries = list(node.surge_view.entries.values())
        vts = node.config_store.current.vehicle_types
        first = vts[0] if vts else ""
        priced = {e.update.cell for e in entries}
        served = [e.update.multiplier for e in entries if e.update.vehicle_type == first]
        surging = [x for x in served if x > 1.0]
        clients = sum(m.stream_clients.labels(transport=t).value for t in ("ws", "sse"))
        parts = ["demo"]
        if self.traffic is not None:
            model = self.traffic.model
            hour = model.rhythm.hour(model.t)
            counts = model.counts()
            parts[0] = f"demo {int(hour):02d}:{int(hour % 1 * 60):02d}"
            parts.append(f"traffic {_n((sent - last[1]) / elapsed)} ev/s ({_n(counts['available'] + counts['on_trip'])}"
                         f" drivers online, {_n(counts['available'])} free)")
        parts.append(f"ingested {_n((ingested - last[2]) / elapsed)} ev/s")
        surge = f", {len(surging)} surging (max {max(surging):.1f}×)" if surging else ", none surging"
        parts.append(f"{_n(len(priced))} cells priced{surge}")
        parts.append(f"{_n(clients)} client{'' if clients == 1 else 's'}")
        parts.append(f"{node.status.http_address}/")
        return " · ".join(parts)

    async def run(self) -> None:
        """Announce the node, then print a status line every ``demo.status_every_s`` until stopped."""
        await self.node.ready.wait()
        print(self.banner(), file=self.out, flush=True)
        self.status_line()  # sets the baseline of the rates
        every = self.node.settings.demo.status_every_s
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), every)
            if not self._stopped.is_set():
                print(self.status_line(), file=self.out, flush=True)

    async def stop(self) -> None:
        """Stop printing, and say that the node is on its way out."""
        if not self._stopped.is_set():
            print("\n  stopping the demo (Ctrl-C again to force)…", file=self.out, flush=True)
        self._stopped.set()


__all__ = ["DemoConsole"]
