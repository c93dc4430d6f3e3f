"""Prometheus metrics: counters, gauges and histograms with labels, rendered as the text format.

A small in-process registry instead of a client library: the hot paths (ingest, tick, fan-out) only
add to a float held by a pre-resolved child (``counter.labels(kind="driver")`` once, ``.inc(n)``
per batch), and ``/metrics`` renders on demand. Names follow CONTRACT.md; every metric is declared
in :class:`Metrics` so that a dashboard can rely on it existing from the first scrape.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable, Sequence

_DEFAULT_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _fmt(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if value != value:  # NaN
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_str(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Value:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (a counter never goes down; callers pass amount >= 0)."""
        self.value += amount

    def set(self, value: float) -> None:
        """Set a gauge."""
        self.value = value

    def dec(self, amount: float = 1.0) -> None:
        """Subtract from a gauge."""
        self.value -= amount


class _HistValue:
    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Record one observation."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value


class Metric:
    """A named metric family with fixed label names; ``labels(...)`` returns the child to update."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], object] = {}
        self._lock = threading.Lock()
        if not self.labelnames:
            self._children[()] = self._new()

    def _new(self) -> object:
        return _Value()

    def labels(self, *values: str, **kv: str):
        """The child for these label values (created on first use)."""
        key = tuple(values) if values else tuple(kv[n] for n in self.labelnames)
        child = self._children.get(key)
        if child is None:
            with self._lock:
                child = self._children.setdefault(key, self._new())
        return child

    def samples(self) -> Iterable[str]:
        """Text-format sample lines."""
        for key, child in sorted(self._children.items()):
            yield f"{self.name}{_label_str(self.labelnames, key)} {_fmt(child.value)}"  # type: ignore[attr-defined]

    def render(self) -> str:
        """HELP, TYPE and samples."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}", *self.samples()]
        return "\n".join(lines)


class Counter(Metric):
    """Monotonic counter; unlabelled counters expose ``inc`` directly."""

    kind = "counter"

    def inc(self, amount: float = 1.0) -> None:
        """Increment the unlabelled child."""
        self._children[()].value += amount  # type: ignore[attr-defined]

    @property
    def value(self) -> float:
        """Current value of the unlabelled child."""
        return self._children[()].value  # type: ignore[attr-defined]


class Gauge(Metric):
    """A value that goes up and down, or is computed at scrape time by ``set_function``."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._fn: Callable[[], float] | None = None

    def set(self, value: float) -> None:
        """Set the unlabelled child."""
        self._children[()].value = value  # type: ignore[attr-defined]

    def inc(self, amount: float = 1.0) -> None:
        """Add to the unlabelled child."""
        self._children[()].value += amount  # type: ignore[attr-defined]

    def dec(self, amount: float = 1.0) -> None:
        """Subtract from the unlabelled child."""
        self._children[()].value -= amount  # type: ignore[attr-defined]

    @property
    def value(self) -> float:
        """Current value of the unlabelled child (calling ``set_function`` if any)."""
        if self._fn is not None:
            return float(self._fn())
        return self._children[()].value  # type: ignore[attr-defined]

    def set_function(self, fn: Callable[[], float]) -> None:
        """Compute the unlabelled value at scrape time."""
        self._fn = fn

    def samples(self) -> Iterable[str]:
        """Text-format sample lines."""
        if self._fn is not None and not self.labelnames:
            yield f"{self.name} {_fmt(float(self._fn()))}"
            return
        yield from super().samples()


class Histogram(Metric):
    """Cumulative histogram with fixed bucket bounds (seconds by default)."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = (),
                 buckets: Sequence[float] = _DEFAULT_BUCKETS_S) -> None:
        self.bounds = tuple(sorted(buckets))
        super().__init__(name, help_text, labelnames)

    def _new(self) -> object:
        return _HistValue(self.bounds)

    def observe(self, value: float) -> None:
        """Observe on the unlabelled child."""
        self._children[()].observe(value)  # type: ignore[attr-defined]

    def samples(self) -> Iterable[str]:
        """Bucket, sum and count lines per child."""
        for key, child in sorted(self._children.items()):
            assert isinstance(child, _HistValue)
            cumulative = 0
            for bound, count in zip((*child.bounds, math.inf), child.counts, strict=True):
                cumulative += count
                le = f'le="{_fmt(bound)}"'
                yield f"{self.name}_bucket{_label_str(self.labelnames, key, le)} {cumulative}"
            yield f"{self.name}_sum{_label_str(self.labelnames, key)} {_fmt(child.sum)}"
            yield f"{self.name}_count{_label_str(self.labelnames, key)} {child.count}"


class Registry:
    """An ordered set of metric families rendered together."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}

    def register(self, metric: Metric) -> Metric:
        """Add a family; names are unique."""
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} registered twice")
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        """Declare a counter."""
        return self.register(Counter(name, help_text, labelnames))  # type: ignore[return-value]

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        """Declare a gauge."""
        return self.register(Gauge(name, help_text, labelnames))  # type: ignore[return-value]

    def histogram(self, name: str, help_text: str, labelnames: Sequence[str] = (),
                  buckets: Sequence[float] = _DEFAULT_BUCKETS_S) -> Histogram:
        """Declare a histogram."""
        return self.register(Histogram(name, help_text, labelnames, buckets))  # type: ignore[return-value]

    def get(self, name: str) -> Metric:
        """A family by name."""
        return self._metrics[name]

    def render(self) -> str:
        """The whole registry in the Prometheus text exposition format 0.0.4."""
        return "\n".join(m.render() for m in self._metrics.values()) + "\n"


class Metrics:
    """Every metric of the node (CONTRACT.md names), declared once per process."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        self.events_ingested = r.counter("eq_events_ingested_total", "Input events applied to state.", ["kind"])
        self.events_rejected = r.counter("eq_events_rejected_total", "Input events rejected to the DLQ.",
                                         ["reason"])
        self.events_dropped = r.counter("eq_events_dropped_total",
                                        "Valid events not applied (too old, duplicate).", ["reason"])
        self.dlq_lost = r.counter("eq_dlq_lost_total", "Rejected events whose DLQ copy could not be stored.")
        self.stream_applied_seq = r.gauge("eq_stream_applied_seq", "Last stream sequence applied to state.")
        self.stream_pending = r.gauge("eq_stream_pending", "Messages behind the stream head.")
        self.checkpoint_seq = r.gauge("eq_checkpoint_seq", "Stream sequence of the newest checkpoint.")
        self.checkpoint_seconds = r.histogram("eq_checkpoint_seconds", "Time to write a checkpoint.")
        self.ingest_batch_seconds = r.histogram("eq_ingest_batch_seconds", "Time to apply one batch.")
        self.ticks = r.counter("eq_ticks_total", "Pricing ticks run.")
        self.tick_seconds = r.histogram("eq_tick_seconds", "Duration of a pricing tick.")
        self.cells_active = r.gauge("eq_cells_active", "Cells with any supply or demand.")
        self.surge_updates = r.counter("eq_surge_updates_total", "Surge updates published.")
        self.audit_records = r.counter("eq_audit_records_total", "Pricing audit records published.")
        self.publish_failures = r.counter("eq_publish_failures_total", "Leader writes not acknowledged.")
        self.tick_errors = r.counter("eq_tick_errors_total", "Pricing ticks that failed.")
        self.quotes = r.counter("eq_quotes_total", "Quote requests by result.", ["result"])
        self.quote_signals = r.counter("eq_quote_signals_total", "Demand signals of quotes and accepts by outcome.",
                                       ["outcome"])
        self.snapshot_records = r.counter("eq_snapshot_records_total", "Zone snapshot records written (leader).")
        self.funnel_signals = r.counter("eq_funnel_signals_total",
                                        "Quote-funnel signals counted by the leader (quote, accept).", ["step"])
        self.analytics_records = r.counter("eq_analytics_records_total",
                                           "Snapshot and audit records folded into the analytics rollup.", ["stream"])
        self.analytics_dropped = r.counter("eq_analytics_dropped_total", "Records the analytics rollup skipped "
                                           "(invalid, older than its span, in the future).", ["reason"])
        self.analytics_loaded = r.gauge("eq_analytics_loaded", "1 once the analytics rollup has caught up with "
                                        "its streams.")
        self.http_request_seconds = r.histogram("eq_http_request_seconds", "HTTP request latency.", ["route"])
        self.http_responses = r.counter("eq_http_responses_total", "HTTP responses by route and status class.",
                                        ["route", "status"])
        self.stream_clients = r.gauge("eq_stream_clients", "Connected stream clients.", ["transport"])
        self.stream_messages = r.counter("eq_stream_messages_total", "Stream messages delivered to clients.")
        self.stream_disconnects = r.counter("eq_stream_disconnects_total", "Stream disconnects by reason.",
                                            ["reason"])
        self.leader = r.gauge("eq_leader", "1 on the region's leader.")
        self.leader_term = r.gauge("eq_leader_term", "Fencing token (lease term) of the region's leader as this "
                                   "node last saw it; 0 when none.")
        self.leader_changes = r.counter("eq_leader_changes_total", "This node gained, lost or released the "
                                        "leader lease.", ["event"])
        self.lease_renewals = r.counter("eq_lease_renewals_total", "Lease renewals by result (ok, error, lost).",
                                        ["result"])
        self.fenced_writes = r.counter("eq_fenced_writes_total", "Leader writes refused because this node does "
                                       "not hold the lease (or another node wrote the key).", ["writer"])
        self.heartbeat_failures = r.counter("eq_heartbeat_failures_total", "Node heartbeats that could not be "
                                            "written.")
        self.degraded = r.gauge("eq_degraded", "1 when serving stale or fallback prices.")
        self.nats_connected = r.gauge("eq_nats_connected", "1 while connected to NATS.")
        self.nats_reconnects = r.counter("eq_nats_reconnects_total", "NATS reconnects.")
        self.provision_drift = r.gauge("eq_provision_drift", "Streams/buckets whose config differs and NATS "
                                       "refused to update.")
        self.build_info = r.gauge("eq_build_info", "Node version and region.", ["version", "region", "node_id"])
        for transport in ("ws", "sse"):
            self.stream_clients.labels(transport=transport)
        for kind in ("driver", "rider"):
            self.events_ingested.labels(kind=kind)
        for step in ("quote", "accept"):
            self.funnel_signals.labels(step=step)
        for stream in ("snapshot", "audit"):
            self.analytics_records.labels(stream=stream)
        for event in ("acquired", "lost", "released"):
            self.leader_changes.labels(event=event)
        for result in ("ok", "error", "lost"):
            self.lease_renewals.labels(result=result)
        for writer in ("publish", "checkpoint"):
            self.fenced_writes.labels(writer=writer)

    def render(self) -> str:
        """Prometheus text of every metric."""
        return self.registry.render()
