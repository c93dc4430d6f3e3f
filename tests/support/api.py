"""HTTP calls to a node process and surge entries written to its KV, as the leader would write them."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import msgspec

from equilibrium_node.geo import cells
from equilibrium_node.messages import SurgeUpdate, surge_key

from .nodeproc import TEST_ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


def call(base_url: str, method: str, path: str, body: object = None, headers: dict[str, str] | None = None,
         raw: bytes | None = None, timeout: float = 10.0) -> tuple[int, object]:
    """One request; (status, decoded JSON or text). ``body`` is JSON-encoded, ``raw`` sent as is."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base_url + path, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, payload = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, payload.decode(errors="replace")


def estimate_body(lat: float = 37.7880, lng: float = -122.4000, vehicle_type: str = "standard",
                  user_id: str = "rider-1", to: tuple[float, float] = (37.7700, -122.4200)) -> dict:
    """A valid estimate request."""
    return {"pickup_location": {"latitude": lat, "longitude": lng},
            "dropoff_location": {"latitude": to[0], "longitude": to[1]}, "vehicle_type": vehicle_type,
            "user_id": user_id}


def surge_update(lat: float, lng: float, multiplier: float, *, zone_id: str, vehicle_type: str = "standard",
                 supply: float = 2.0, demand: float = 5.0, level: str = "high", trend: str = "increasing",
                 level_cells: int = 13, rev: int = 1) -> SurgeUpdate:
    """A surge update for the cell of a point, stamped now."""
    return SurgeUpdate(cell=cells.cell_token(lat, lng, level_cells), zone_id=zone_id, vehicle_type=vehicle_type,
                       multiplier=multiplier, supply=supply, demand=demand, demand_level=level, trend=trend,  # type: ignore[arg-type]
                       algorithm="linear", rev=rev,
                       updated_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))


async def put_surge(js, region: str, update: SurgeUpdate) -> None:
    """Write an update into KV ``eq_<region>_surge`` exactly as the leader does."""
    kv = await js.key_value(f"eq_{region}_surge")
    await kv.put(surge_key(update.cell, update.vehicle_type), msgspec.json.encode(update))


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; that value, or an AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not met in {timeout}s (last: {last!r})")


def served_cell(base_url: str, cell: str, vehicle_type: str = "standard") -> dict | None:
    """The heatmap's view of one pricing-level cell (zoom 12), read without creating any demand signal."""
    status, body = call(base_url, "GET", "/api/v1/pricing/heatmap?bounds=37.60,-122.52,37.83,-122.35&zoom=12"
                        f"&vehicle_type={vehicle_type}")
    if status != 200:
        return None
    found = next((c for c in body["cells"] if c["cell"] == cell), None)  # type: ignore[index]
    return {**found, "degraded": body["degraded"]} if found else None  # type: ignore[index]
