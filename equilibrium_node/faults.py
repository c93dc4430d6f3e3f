"""Test-only fault injection: make the process SIGKILL itself at a named point of its work.

``EQUILIBRIUM_FAULT=point:n[,point:n...]`` kills the process the n-th time it reaches ``point``
(``os.kill(os.getpid(), SIGKILL)``: no cleanup, no final checkpoint, exactly like a crash). The
variable is deliberately not ``EQ_``-prefixed: it is not configuration, the settings loader never
sees it, and an operator cannot set it by accident through the config file.

Points used by the node:

- ``batch``: in the middle of applying a batch to the market state (pings applied, signals not);
- ``dlq``: after a batch's rejects were copied to the DLQ, before the batch is applied;
- ``checkpoint_chunk``: after a chunk of a checkpoint was written (n counts chunks, not checkpoints);
- ``checkpoint_manifest``: after a checkpoint's manifest was written.
"""

from __future__ import annotations

import os
import signal

ENV = "EQUILIBRIUM_FAULT"


class Faults:
    """Counts hits per point and kills the process at the configured one."""

    def __init__(self, spec: str = "") -> None:
        self.targets: dict[str, int] = {}
        self.hits: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            point, _, count = part.partition(":")
            self.targets[point] = int(count or "1")

    @classmethod
    def from_env(cls) -> Faults:
        """Faults configured by ``EQUILIBRIUM_FAULT`` (none when unset)."""
        return cls(os.environ.get(ENV, ""))

    def hit(self, point: str) -> None:
        """Record reaching ``point``; SIGKILL ourselves when it is the configured hit."""
        if not self.targets:
            return
        n = self.hits.get(point, 0) + 1
        self.hits[point] = n
        if self.targets.get(point) == n:
            os.kill(os.getpid(), signal.SIGKILL)


#: The process-wide instance (read once at import).
FAULTS = Faults.from_env()
