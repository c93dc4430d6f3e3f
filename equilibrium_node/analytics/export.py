"""``equilibrium-node export --since 30d --out DIR``: the region's history as Parquet files for SQL tools.

Reads the snapshot stream ``EQ_SNAP_<REGION>`` and the audit stream ``EQ_AUDIT_<REGION>`` (ordered
consumers from shortly before the window, so a long retention is not read in full), keeps the
records whose own ``ts`` lies in the window, and writes ``snapshots.parquet``, ``audit.parquet``,
``funnel.parquet`` (quotes and accepts per zone, vehicle type and hour), ``zones.parquet`` (the live
zone config) and ``export.json`` (what was exported). Schemas: :mod:`.parquet` and the README.
The window is the API's: from the start of the hour ``--since`` ago, so ``sql/`` queries over the
files and ``GET /api/v1/analytics/zones`` agree. Progress goes to stderr (a bar on a terminal,
plain lines otherwise).

Where it reads from, like ``run``: ``--nats-url`` / ``EQ_NATS_URL`` when given. Otherwise the
embedded server of ``--data-dir``: when a node is running on that directory, its server (found
through its pid and ports files) is used as it is, never stopped or restarted; when none is, a
temporary server is started on the stored data (on a free port) and stopped afterwards; when
the directory holds no JetStream store at all, that is an error, not an empty export.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec

from ..bus.embedded import EmbeddedNatsServer, running_server_url
from ..bus.names import RegionNames
from ..errors import ConfigError, EquilibriumError, ExitCode, StartupError
from ..logs import get_logger, setup_logging
from ..messages import AuditRecord, ZoneSnapshot, audit_record_decoder, zone_snapshot_decoder
from ..progress import Progress
from ..settings import Settings, ZoneConfig
from .durations import format_duration, parse_duration, rfc3339_s
from .report import window_start

log = get_logger(__name__)

#: Records are read from this long before the window by stream time (clock skew between writer and server).
START_MARGIN_S = 3600.0
#: No record for this long while some are still pending: the export fails rather than hang.
STALL_S = 60.0


def _embedded_url(data_dir: str) -> str:
    """The running embedded server of ``data_dir``; "" when a temporary one must be started on its store."""
    url = running_server_url(data_dir)
    if url:
        return url
    if not (Path(data_dir) / "jetstream").is_dir():
        raise StartupError(f"nothing to export from: no NATS URL (--nats-url / EQ_NATS_URL) and no embedded "
                           f"JetStream store in {Path(data_dir).resolve()} (--data-dir)")
    return ""


@contextlib.asynccontextmanager
async def open_bus(settings: Settings) -> AsyncIterator[Any]:
    """A JetStream context on the configured NATS, a running node's embedded server, or a temporary one."""
    from ..bus.connection import connect, wait_jetstream

    embedded = None
    url = settings.nats.url
    if not url:
        url = _embedded_url(settings.data_dir)
        if not url:
            embedded = EmbeddedNatsServer(settings.data_dir, host="127.0.0.1", port=0,
                                          name=f"eq-{settings.region}-export",
                                          config_file=settings.nats.embedded_config,
                                          ready_timeout_s=settings.nats.embedded_ready_timeout_s)
            url = await embedded.start()
    nc = None
    try:
        nc, js = await connect(settings.nats, url, name=f"eq-{settings.region}-export")
        await wait_jetstream(js, timeout_s=max(15.0, settings.nats.connect_timeout_s * 3))
        yield js
    finally:
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()
        if embedded is not None:
            await embedded.stop()


async def read_stream(js, stream: str, subject: str, start: float, decode: Callable[[bytes], Any],
                      on_record: Callable[[Any], None], progress: Progress) -> int:
    """Feed every decodable record stored since ``start`` (stream time) to ``on_record``; returns how many."""
    from nats.js import api
    from nats.js.errors import NotFoundError

    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        progress.finish("no such stream")
        return 0
    if not info.state.messages:
        progress.finish()
        return 0
    seen = 0
    done = asyncio.Event()
    bad = 0

    async def on_msg(msg) -> None:
        nonlocal seen, bad
        seen += 1
        if seen == 1:  # exact: what is left from the first record on
            progress.total = msg.metadata.num_pending + 1
        try:
            on_record(decode(msg.data))
        except (msgspec.ValidationError, msgspec.DecodeError):
            bad += 1
        progress.update(seen)
        if msg.metadata.num_pending == 0:
            done.set()

    config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_TIME,
                                opt_start_time=dt.datetime.fromtimestamp(start, dt.UTC).isoformat())
    sub = await js.subscribe(subject, stream=stream, cb=on_msg, ordered_consumer=True, config=config,
                             pending_msgs_limit=-1, pending_bytes_limit=-1)
    try:
        consumer = await sub.consumer_info()
        if consumer.num_pending == 0 and seen == 0 and not (consumer.delivered and consumer.delivered.consumer_seq):
            done.set()  # nothing stored since the start time
        last_seen, last_change = seen, time.monotonic()
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 1.0)
            if seen != last_seen:
                last_seen, last_change = seen, time.monotonic()
            elif time.monotonic() - last_change > STALL_S:
                raise EquilibriumError(f"reading {stream} stalled at {seen} of {progress.total} records")
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    progress.finish(f"{bad} unreadable skipped" if bad else "")
    return seen - bad


async def live_zones(js, settings: Settings) -> dict[str, ZoneConfig]:
    """Zones of the live config bucket (falling back to the config file's where the bucket has none)."""
    zones = {z.id: z for z in settings.zones}
    with contextlib.suppress(Exception):  # no bucket (never ran) or no zone keys: the file's zones
        kv = await js.key_value(RegionNames(settings.region).config_bucket)
        for key in await kv.keys():
            if key.startswith("zone."):
                entry = await kv.get(key)
                with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
                    zone = msgspec.json.decode(entry.value or b"", type=ZoneConfig)
                    zones[zone.id] = zone
    return zones


def _make_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


async def export(settings: Settings, since_s: int, out_dir: Path, *, now: float | None = None,
                 out=None) -> dict[str, Any]:
    """Write the export files into ``out_dir``; returns the manifest (also written as ``export.json``)."""
    from . import parquet as pqx

    now = time.time() if now is None else now
    since = window_start(now, since_s)
    names = RegionNames(settings.region)
    _make_dir(out_dir)
    funnel: dict[tuple[int, str, str], list[int]] = {}
    async with open_bus(settings) as js:
        snapshots = pqx.TableWriter(out_dir / "snapshots.parquet", pqx.SNAPSHOTS)

        def on_snapshot(r: ZoneSnapshot) -> None:
            if r.ts < since:
                return
            snapshots.add((pqx.micros(r.ts), r.zone_id, r.vehicle_type, r.interval_s, r.supply, r.on_trip, r.demand,
                           r.cells, r.mean_multiplier, r.max_multiplier, r.quotes, r.accepts, r.seq))
            if r.quotes or r.accepts:
                acc = funnel.setdefault((int(r.ts // 3600) * 3600, r.zone_id, r.vehicle_type), [0, 0])
                acc[0] += r.quotes
                acc[1] += r.accepts

        await read_stream(js, names.snapshot_stream, names.snapshot_subject, since - START_MARGIN_S,
                          zone_snapshot_decoder.decode, on_snapshot, Progress("snapshots", 0, out=out, prefix="export"))
        rows = {"snapshots.parquet": snapshots.close()}

        audit = pqx.TableWriter(out_dir / "audit.parquet", pqx.AUDIT)

        def on_audit(r: AuditRecord) -> None:
            if r.ts < since:
                return
            direction = "rise" if r.new_multiplier > r.old_multiplier else (
                "fall" if r.new_multiplier < r.old_multiplier else "none")
            audit.add((pqx.micros(r.ts), r.zone_id, r.cell, r.vehicle_type, r.old_multiplier, r.new_multiplier,
                       direction, r.trigger_reason, r.supply, r.demand, r.algorithm))

        await read_stream(js, names.audit_stream, names.audit_subject, since - START_MARGIN_S,
                          audit_record_decoder.decode, on_audit, Progress("audit", 0, out=out, prefix="export"))
        rows["audit.parquet"] = audit.close()
        zones = await live_zones(js, settings)

    writer = pqx.TableWriter(out_dir / "funnel.parquet", pqx.FUNNEL)
    for (hour, zone_id, vt), (quotes, accepts) in sorted(funnel.items()):
        writer.add((pqx.micros(hour), zone_id, vt, quotes, accepts, accepts / quotes if quotes else None))
    rows["funnel.parquet"] = writer.close()
    writer = pqx.TableWriter(out_dir / "zones.parquet", pqx.ZONES)
    default = f"{settings.region}_default"
    writer.add((default, "Rest of region", "linear", 1.0, 3.0))
    for zone in sorted(zones.values(), key=lambda z: z.id):
        writer.add((zone.id, zone.name, zone.algorithm, zone.min_multiplier, zone.max_multiplier))
    rows["zones.parquet"] = writer.close()
    manifest = {"region": settings.region, "exported_at": rfc3339_s(now), "since": format_duration(since_s),
                "from": rfc3339_s(since), "rows": rows}
    (out_dir / "export.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--since`` and ``--out``."""
    parser.add_argument("--since", default="30d", help="how far back: <n>h or <n>d, 1h to 366d (default 30d); "
                                                       "from the start of that hour")
    parser.add_argument("--out", required=True, help="directory for the Parquet files (created if missing)")


def main(args: argparse.Namespace) -> int:
    """Run the export; one line on stderr per error."""
    settings: Settings = args.settings
    try:
        since_s = parse_duration(args.since, lo_s=3600, hi_s=366 * 86_400)
    except ValueError as exc:
        raise ConfigError(str(exc), field="--since", source="option --since") from None
    if settings.log_level == "info":  # progress is what a user wants to see here, not the client's logs
        setup_logging("error", settings.log_format, region=settings.region)
    manifest = asyncio.run(export(settings, since_s, Path(args.out)))
    rows = ", ".join(f"{name} {n:,}" for name, n in manifest["rows"].items())
    print(f"exported {settings.region} since {manifest['from']} to {Path(args.out).resolve()}: {rows}")
    return ExitCode.OK


COMMAND = ("export", "write the region's history (snapshots, audit log, quote funnel) as Parquet files",
           add_arguments, main)

__all__ = ["COMMAND", "add_arguments", "export", "main", "open_bus", "read_stream"]
