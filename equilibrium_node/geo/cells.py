"""Scalar S2 helpers on cell tokens (the contract's cell names), built on s2sphere and cached.

These serve the request paths (one point, one viewport); bulk lat/lng to cell conversion on the
ingest path uses the vectorised implementation instead.
"""

from __future__ import annotations

import math
from functools import lru_cache

import s2sphere

EARTH_RADIUS_M = 6_371_008.8
MAX_LEVEL = 30


def cell_id(lat: float, lng: float, level: int) -> int:
    """S2 cell id (uint64 as int) containing the point at ``level``."""
    leaf = s2sphere.CellId.from_lat_lng(s2sphere.LatLng.from_degrees(lat, lng))
    return leaf.parent(level).id()


def to_token(cid: int) -> str:
    """Token of a cell id: lower-case hex with trailing zeros stripped ("X" for id 0)."""
    if cid == 0:
        return "X"
    return f"{cid:016x}".rstrip("0")


def from_token(token: str) -> int:
    """Cell id of a token; raises ValueError on anything that is not a valid S2 token."""
    if not token or len(token) > 16 or token != token.lower():
        raise ValueError(f"not an S2 cell token: {token!r}")
    cid = int(token.ljust(16, "0"), 16)
    if cid == 0 or not s2sphere.CellId(cid).is_valid():
        raise ValueError(f"not an S2 cell token: {token!r}")
    return cid


def is_token(token: str) -> bool:
    """True for a valid S2 cell token."""
    try:
        from_token(token)
    except ValueError:
        return False
    return True


def cell_token(lat: float, lng: float, level: int) -> str:
    """Token of the cell containing the point at ``level``."""
    return to_token(cell_id(lat, lng, level))


@lru_cache(maxsize=262_144)
def level_of(token: str) -> int:
    """S2 level of a token."""
    return s2sphere.CellId(from_token(token)).level()


@lru_cache(maxsize=262_144)
def parent(token: str, level: int) -> str:
    """Token of the ancestor at ``level`` (<= the cell's level)."""
    return to_token(s2sphere.CellId(from_token(token)).parent(level).id())


def children(token: str, level: int) -> list[str]:
    """Tokens of all descendants at ``level`` (>= the cell's level)."""
    cid = s2sphere.CellId(from_token(token))
    begin, end = cid.child_begin(level), cid.child_end(level)
    out = []
    while begin != end:
        out.append(to_token(begin.id()))
        begin = begin.next()
    return out


@lru_cache(maxsize=262_144)
def center(token: str) -> tuple[float, float]:
    """(lat, lng) of the cell's centre."""
    ll = s2sphere.CellId(from_token(token)).to_lat_lng()
    return ll.lat().degrees, ll.lng().degrees


@lru_cache(maxsize=262_144)
def vertices(token: str) -> tuple[tuple[float, float], ...]:
    """The four corners as (lat, lng), counter-clockwise."""
    cell = s2sphere.Cell(s2sphere.CellId(from_token(token)))
    out = []
    for k in range(4):
        ll = s2sphere.LatLng.from_point(cell.get_vertex(k))
        out.append((round(ll.lat().degrees, 6), round(ll.lng().degrees, 6)))
    return tuple(out)


@lru_cache(maxsize=262_144)
def neighbors(token: str) -> tuple[str, ...]:
    """The (up to) eight cells around one at the same level: edge and vertex neighbours."""
    cid = s2sphere.CellId(from_token(token))
    found = {n.id() for n in cid.get_all_neighbors(cid.level())}
    found.discard(cid.id())
    return tuple(sorted(to_token(n) for n in found))


def cover_rect(lat1: float, lng1: float, lat2: float, lng2: float, level: int, max_cells: int) -> list[str] | None:
    """Every cell at ``level`` intersecting the rectangle, or None when there would be more than ``max_cells``.

    The corners may come in any order; rectangles do not cross the antimeridian.
    """
    lo_lat, hi_lat = sorted((lat1, lat2))
    lo_lng, hi_lng = sorted((lng1, lng2))
    if estimate_cells(lo_lat, lo_lng, hi_lat, hi_lng, level) > max_cells * 4:
        return None
    rect = s2sphere.LatLngRect.from_point_pair(s2sphere.LatLng.from_degrees(lo_lat, lo_lng),
                                               s2sphere.LatLng.from_degrees(hi_lat, hi_lng))
    coverer = s2sphere.RegionCoverer()
    coverer.min_level = coverer.max_level = level
    coverer.max_cells = max_cells + 1
    cells = coverer.get_covering(rect)
    if len(cells) > max_cells:
        return None
    return [to_token(c.id()) for c in cells]


def estimate_cells(lo_lat: float, lo_lng: float, hi_lat: float, hi_lng: float, level: int) -> float:
    """Rough count of cells at ``level`` in a rectangle (area / average cell area), to refuse huge covers early."""
    area_m2 = (abs(math.sin(math.radians(hi_lat)) - math.sin(math.radians(lo_lat)))
               * math.radians(abs(hi_lng - lo_lng)) * EARTH_RADIUS_M**2)
    avg_cell_m2 = 4 * math.pi * EARTH_RADIUS_M**2 / (6 * 4**level)
    return area_m2 / avg_cell_m2


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
