"""Provisioning: the region's streams and KV buckets exist with the configured limits, idempotently.

For each stream (a KV bucket is the stream ``KV_<bucket>``) the desired config is built from the
settings. Missing: created. Present and equal on every managed field: left alone. Drifted: updated
where NATS allows (limits, replicas, history), reported where it does not (storage type, for
instance): the node starts anyway, logs the drift and exposes ``eq_provision_drift``.

On a cluster that just lost a server, a stream's (or the meta) leader may be being re-elected for a few
seconds: JetStream API calls then time out or find no responder, and an R3 stream finds no three peers
to be placed on until the server is back. Each call is retried for up to
``RETRY_FOR_S`` before provisioning gives up with one line, so a node (re)started during a NATS failure
waits instead of crashing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

from ..errors import ProvisioningError
from ..logs import get_logger
from ..settings import Settings
from .names import RegionNames

log = get_logger(__name__)

#: Stream fields provisioning manages (and compares); anything else is left as the server has it.
MANAGED_FIELDS = ("subjects", "max_age", "max_bytes", "duplicate_window", "num_replicas", "storage",
                  "max_msgs_per_subject", "allow_direct", "discard", "allow_rollup_hdrs", "deny_delete",
                  "allow_msg_ttl", "max_msg_size")

#: Fields NATS never changes on an existing stream: reported as drift without trying.
IMMUTABLE_FIELDS = frozenset({"storage"})

_METADATA = {"managed_by": "equilibrium"}

#: how long a JetStream API call is retried while the cluster elects leaders
RETRY_FOR_S = 60.0
_TRANSIENT = (NatsTimeoutError, NoRespondersError, ServiceUnavailableError, asyncio.TimeoutError)
#: JSClusterNoPeersErrF: "no suitable peers for placement" (a server of the cluster is down or not caught up)
NO_PEERS = 10005
T = TypeVar("T")


def _transient(exc: Exception) -> bool:
    return isinstance(exc, _TRANSIENT) or (isinstance(exc, APIError) and exc.err_code == NO_PEERS)


async def _retrying(call: Callable[[], Awaitable[T]], what: str, retry_for_s: float = RETRY_FOR_S) -> T:
    """``call()``, again after transient JetStream trouble (leader elections) until ``retry_for_s`` passed."""
    deadline = time.monotonic() + retry_for_s
    pause = 0.25
    while True:
        try:
            return await call()
        except Exception as exc:
            if not _transient(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise ProvisioningError(f"{what}: JetStream did not answer for {retry_for_s:.0f}s "
                                        f"({type(exc).__name__})") from None
            log.warning("provision_retry", what=what, error=type(exc).__name__)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


@dataclass
class ProvisionReport:
    """What provisioning did to each stream."""

    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    drift: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """True when anything was created or updated."""
        return bool(self.created or self.updated)


def _stream(name: str, subjects: list[str], *, max_age_s: float, max_bytes: int, settings: Settings,
            duplicate_window_s: float | None = None) -> api.StreamConfig:
    return api.StreamConfig(
        name=name, subjects=subjects, retention=api.RetentionPolicy.LIMITS, discard=api.DiscardPolicy.OLD,
        max_age=max_age_s, max_bytes=max_bytes, max_msgs=-1, max_msg_size=-1,
        duplicate_window=duplicate_window_s if duplicate_window_s is not None else settings.streams.duplicate_window_s,
        storage=api.StorageType(settings.streams.storage), num_replicas=settings.nats.replicas,
        metadata={**_METADATA, "region": settings.region},
    )


def _bucket(bucket: str, *, settings: Settings, history: int = 1, ttl_s: float | None = None,
            max_value_size: int = -1) -> api.StreamConfig:
    """The stream behind a KV bucket, as nats-py's ``create_key_value`` would build it (plus direct get)."""
    return api.StreamConfig(
        name=f"KV_{bucket}", subjects=[f"$KV.{bucket}.>"], retention=api.RetentionPolicy.LIMITS,
        allow_direct=True, allow_rollup_hdrs=True, allow_msg_ttl=True, deny_delete=True,
        discard=api.DiscardPolicy.NEW, duplicate_window=min(120.0, ttl_s) if ttl_s else 120.0,
        max_age=ttl_s or 0.0, max_bytes=-1, max_msgs=-1, max_msg_size=max_value_size,
        max_msgs_per_subject=history, storage=api.StorageType(settings.streams.storage),
        num_replicas=settings.nats.replicas, metadata={**_METADATA, "region": settings.region},
    )


def desired_streams(settings: Settings) -> list[api.StreamConfig]:
    """Every stream and bucket of the region with its limits."""
    n = RegionNames(settings.region)
    s = settings.streams
    return [
        _stream(n.location_stream, [n.location_subjects], max_age_s=s.location_max_age_s,
                max_bytes=s.location_max_bytes, settings=settings),
        _stream(n.audit_stream, [f"eq.{settings.region}.audit.>"], max_age_s=s.audit_max_age_s,
                max_bytes=s.audit_max_bytes, settings=settings),
        _stream(n.dlq_stream, [n.dlq_subject], max_age_s=s.dlq_max_age_s, max_bytes=s.dlq_max_bytes,
                settings=settings),
        _stream(n.snapshot_stream, [f"eq.{settings.region}.snapshot.>"], max_age_s=s.snapshot_max_age_s,
                max_bytes=s.snapshot_max_bytes, settings=settings),
        _bucket(n.surge_bucket, settings=settings, history=1),
        _bucket(n.config_bucket, settings=settings, history=10),
        _bucket(n.state_bucket, settings=settings, history=1),
        # Lease and heartbeats expire through the bucket's max age; no limit markers (see notes:
        # with markers, nats-py's create() fails on an expired key until the marker itself expires).
        _bucket(n.nodes_bucket, settings=settings, history=1, ttl_s=settings.cluster.lease_ttl_s),
        # An accepted quote id must outlive the quote itself; a margin covers clock skew between nodes.
        _bucket(n.quotes_bucket, settings=settings, history=1, ttl_s=settings.quote.ttl_s + 60.0),
    ]


def _norm(name: str, value: Any) -> Any:
    if isinstance(value, api.StorageType | api.DiscardPolicy | api.RetentionPolicy):
        return value.value
    if name in ("max_age", "duplicate_window"):
        return round(float(value or 0.0), 3)
    if name in ("allow_direct", "allow_rollup_hdrs", "deny_delete", "allow_msg_ttl"):
        return bool(value)
    if name == "max_msg_size" and value in (None, 0):
        return -1
    if name == "subjects":
        return sorted(value or [])
    return value


def diff(desired: api.StreamConfig, actual: api.StreamConfig) -> list[str]:
    """Managed fields whose values differ."""
    changed = []
    for name in MANAGED_FIELDS:
        want, have = _norm(name, getattr(desired, name)), _norm(name, getattr(actual, name))
        if isinstance(want, float) and isinstance(have, float):
            if not math.isclose(want, have, rel_tol=1e-6, abs_tol=1e-3):
                changed.append(name)
        elif want != have:
            changed.append(name)
    return changed


async def provision(js: JetStreamContext, settings: Settings) -> ProvisionReport:
    """Create what is missing, update what drifted where allowed; idempotent."""
    report = ProvisionReport()
    for desired in desired_streams(settings):
        name = desired.name or ""
        try:
            info = await _retrying(lambda n=name: js.stream_info(n), f"stream {name}")
        except NotFoundError:
            try:
                await _retrying(lambda d=desired: js.add_stream(d), f"create stream {name}")
            except APIError as exc:
                raise ProvisioningError(f"cannot create stream {name}: {exc.description or exc}") from None
            report.created.append(name)
            log.info("stream_created", stream=name, replicas=desired.num_replicas)
            continue
        fields = diff(desired, info.config)
        if not fields:
            report.unchanged.append(name)
            continue
        fixed = [f for f in fields if f not in IMMUTABLE_FIELDS]
        frozen = [f for f in fields if f in IMMUTABLE_FIELDS]
        problems = [f"{f}: NATS cannot change it on an existing stream (recreate it to apply)" for f in frozen]
        if fixed:
            merged = dataclasses.replace(info.config, **{f: getattr(desired, f) for f in fixed})
            merged.metadata = {**(info.config.metadata or {}), **(desired.metadata or {})}
            try:
                await _retrying(lambda m=merged: js.update_stream(m), f"update stream {name}")
            except APIError as exc:
                problems.append(f"{', '.join(fixed)}: {exc.description or exc}")
            else:
                report.updated[name] = fixed
                log.info("stream_updated", stream=name, fields=fixed)
        if problems:
            report.drift[name] = "; ".join(problems)
            log.warning("stream_drift_not_updated", stream=name, drift=report.drift[name])
    return report
