"""The service seam: everything the node runs under its TaskGroup implements :class:`Service`."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Service(Protocol):
    """A long-running part of the node.

    ``run`` returns when the service is done (normally after ``stop``); ``stop`` asks it to finish
    its work (flush, checkpoint, close) and must be idempotent. The node calls ``stop`` in an
    explicit order at shutdown; a ``run`` that raises takes the node down.
    """

    name: str

    async def run(self) -> None:
        """Run until stopped."""
        ...

    async def stop(self) -> None:
        """Finish and make ``run`` return."""
        ...
