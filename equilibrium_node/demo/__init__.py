"""``equilibrium-node demo``: the node with its embedded NATS, the bundled SF config and built-in traffic.

- :mod:`.rhythm`: where and when riders appear (neighbourhoods with daily profiles, the Financial
  District's evening rush, games letting out at Oracle Park); pure functions.
- :mod:`.land`: the region's outline as a vectorised point-in-polygon test.
- :mod:`.traffic`: the drivers and riders as numpy arrays, one seeded step at a time; pure.
- :mod:`.publisher`: publishes each step's events through NATS as the apps would (own connection,
  contract subjects and payloads, ``Nats-Msg-Id``).
- :mod:`.console`: the page address, the admin token and a status line every few seconds.
"""

from __future__ import annotations

from ..node import Node


def attach_demo(node: Node) -> None:
    """Add the demo's services (traffic first to stop, console) to a node before it runs."""
    from .console import DemoConsole
    from .publisher import DemoTraffic

    traffic = DemoTraffic(node) if node.settings.demo.drivers or node.settings.demo.riders_per_min else None
    if traffic is not None:
        node.extra_services.append(traffic)
    node.extra_services.append(DemoConsole(node, traffic))


__all__ = ["attach_demo"]
