"""Every NATS name of a region in one place: subjects, streams and KV buckets (CONTRACT.md).

A node of region ``sf`` only ever touches names built here from ``sf``, which is what keeps regions
that share one cluster apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RegionNames:
    """Names of one region's subjects, streams and buckets."""

    region: str

    @property
    def _upper(self) -> str:
        return self.region.upper()

    # subjects
    @property
    def location_subjects(self) -> str:
        """Wildcard of all location input (``eq.<region>.location.>``)."""
        return f"eq.{self.region}.location.>"

    @property
    def driver_subject(self) -> str:
        """Driver pings."""
        return f"eq.{self.region}.location.driver"

    @property
    def rider_subject(self) -> str:
        """Rider demand signals."""
        return f"eq.{self.region}.location.rider"

    def surge_subject(self, cell: str) -> str:
        """Surge updates of one cell."""
        return f"eq.{self.region}.surge.{cell}"

    @property
    def surge_wildcard(self) -> str:
        """All surge updates of the region."""
        return f"eq.{self.region}.surge.>"

    @property
    def audit_subject(self) -> str:
        """Pricing decisions."""
        return f"eq.{self.region}.audit.pricing"

    @property
    def dlq_subject(self) -> str:
        """Rejected input."""
        return f"eq.{self.region}.dlq"

    @property
    def snapshot_subject(self) -> str:
        """Zone snapshots."""
        return f"eq.{self.region}.snapshot.zone"

    # streams
    @property
    def location_stream(self) -> str:
        """Stream of driver pings and demand signals."""
        return f"EQ_LOC_{self._upper}"

    @property
    def audit_stream(self) -> str:
        """Stream of pricing decisions."""
        return f"EQ_AUDIT_{self._upper}"

    @property
    def dlq_stream(self) -> str:
        """Stream of rejected input."""
        return f"EQ_DLQ_{self._upper}"

    @property
    def snapshot_stream(self) -> str:
        """Stream of zone snapshots."""
        return f"EQ_SNAP_{self._upper}"

    # KV buckets
    @property
    def surge_bucket(self) -> str:
        """Current surge update per cell (and vehicle type)."""
        return f"eq_{self.region}_surge"

    @property
    def config_bucket(self) -> str:
        """Live config: rules, zones, fares."""
        return f"eq_{self.region}_config"

    @property
    def state_bucket(self) -> str:
        """Market state checkpoints."""
        return f"eq_{self.region}_state"

    @property
    def nodes_bucket(self) -> str:
        """Leader lease and node heartbeats."""
        return f"eq_{self.region}_nodes"

    @property
    def quotes_bucket(self) -> str:
        """Accepted quote ids (exactly-once accept), expiring after the quote."""
        return f"eq_{self.region}_quotes"

    @property
    def buckets(self) -> tuple[str, ...]:
        """Every bucket of the region."""
        return (self.surge_bucket, self.config_bucket, self.state_bucket, self.nodes_bucket, self.quotes_bucket)

    @property
    def streams(self) -> tuple[str, ...]:
        """Every (non-KV) stream of the region."""
        return (self.location_stream, self.audit_stream, self.dlq_stream, self.snapshot_stream)
