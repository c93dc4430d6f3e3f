"""``equilibrium-node demo``: the node plus what a first-time user needs to see it work.

For now this prints where the page is and the admin token of the session; the traffic simulator
hooks in here too.
"""

from __future__ import annotations

import asyncio
import sys

from ..node import Node


class DemoConsole:
    """Prints the address once the node is ready (a node service)."""

    name = "demo_console"

    def __init__(self, node: Node) -> None:
        self.node = node
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        """Announce the node, then idle until stopped."""
        await self.node.ready.wait()
        address = self.node.status.http_address
        print(f"\n  Equilibrium demo ({self.node.settings.region_name}) is running: {address}/\n"
              f"  admin token for this session: {self.node.settings.admin.token}\n"
              f"  readiness: {address}/readyz   metrics: {address}/metrics   Ctrl-C to stop\n",
              file=sys.stderr, flush=True)
        await self._stopped.wait()

    async def stop(self) -> None:
        """Stop."""
        self._stopped.set()


def attach_demo(node: Node) -> None:
    """Add the demo's services to a node before it runs."""
    node.extra_services.append(DemoConsole(node))
