"""The export's Parquet files: their schemas (documented in the README) and a batching writer.

Every file is written with a fixed Arrow schema even when it has no rows, so a query over an empty
export still finds its columns. Times are ``timestamp[us, UTC]``; a record's ``ts`` is its own time
(the snapshot instant, the pricing decision), not when NATS stored it.

- ``snapshots.parquet``: one row per snapshot record (zone, vehicle type, instant).
- ``audit.parquet``: one row per pricing decision (a served multiplier changed), with ``direction``.
- ``funnel.parquet``: quotes and accepts per zone, vehicle type and hour, with ``conversion``.
- ``zones.parquet``: the zones of the live config at export time (names, algorithm, limits).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TS = pa.timestamp("us", tz="UTC")

SNAPSHOTS = pa.schema([
    ("ts", TS), ("zone_id", pa.string()), ("vehicle_type", pa.string()), ("interval_s", pa.float64()),
    ("supply", pa.int32()), ("on_trip", pa.int32()), ("demand", pa.float64()), ("cells", pa.int32()),
    ("mean_multiplier", pa.float64()), ("max_multiplier", pa.float64()), ("quotes", pa.int32()),
    ("accepts", pa.int32()), ("seq", pa.int64()),
])
AUDIT = pa.schema([
    ("ts", TS), ("zone_id", pa.string()), ("cell", pa.string()), ("vehicle_type", pa.string()),
    ("old_multiplier", pa.float64()), ("new_multiplier", pa.float64()), ("direction", pa.string()),
    ("trigger_reason", pa.string()), ("supply", pa.float64()), ("demand", pa.float64()), ("algorithm", pa.string()),
])
FUNNEL = pa.schema([
    ("hour", TS), ("zone_id", pa.string()), ("vehicle_type", pa.string()), ("quotes", pa.int64()),
    ("accepts", pa.int64()), ("conversion", pa.float64()),
])
ZONES = pa.schema([
    ("zone_id", pa.string()), ("zone_name", pa.string()), ("algorithm", pa.string()),
    ("min_multiplier", pa.float64()), ("max_multiplier", pa.float64()),
])

FILES = {"snapshots.parquet": SNAPSHOTS, "audit.parquet": AUDIT, "funnel.parquet": FUNNEL, "zones.parquet": ZONES}


def micros(ts: float) -> int:
    """Epoch seconds as integer microseconds (the ``ts`` columns)."""
    return round(ts * 1_000_000)


class TableWriter:
    """Rows (tuples in schema order) to one Parquet file, a row group per ``batch_rows``."""

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int = 100_000) -> None:
        self.path = path
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows = 0
        self._pending: list[Sequence] = []
        self._writer = pq.ParquetWriter(str(path), schema, compression="zstd")

    def add(self, row: Sequence) -> None:
        """Append one row."""
        self._pending.append(row)
        if len(self._pending) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        columns = list(zip(*self._pending, strict=True))
        arrays = [pa.array(col, type=field.type) for col, field in zip(columns, self.schema, strict=True)]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.rows += len(self._pending)
        self._pending = []

    def close(self) -> int:
        """Write what is left and close the file; returns the number of rows."""
        self._flush()
        self._writer.close()
        return self.rows


__all__ = ["AUDIT", "FILES", "FUNNEL", "SNAPSHOTS", "ZONES", "TableWriter", "micros"]
