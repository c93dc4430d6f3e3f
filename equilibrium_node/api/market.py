"""Market inspection (admin): the supply and demand the node holds, per cell and vehicle type.

- ``GET /api/v1/market/cells?bounds=lat1,lng1,lat2,lng2``: every *active* cell (any supply, on-trip
  driver or demand in the 5-minute window) whose centre lies in the box, sorted by token, with
  ``applied_seq`` (the last stream sequence in the state). More than 5000 such cells is a 400
  asking for a smaller box, rather than a silently cut list.
- ``GET /api/v1/market/cells/{cell}``: one cell at the region's level. A valid token of a cell with
  no activity answers 200 with zeros (a quiet cell is not an error); a malformed token or one of
  another level is a 400 naming ``cell``.

Both take an optional ``at`` (epoch seconds): evaluate the windows at that time instead of the
node's ``now()``. It may not lie in the future (more than 1 s past the wall clock); a time before the
state's clock evaluates at the clock (windows only slide forward). Tests and ops use it to compare
two states at one instant. Every vehicle type of the region's fare table is present in every map.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec
from aiohttp import web

from ..errors import ApiError, Code
from ..geo import cells
from ..live_config import ConfigSnapshot
from ..market.state import MarketState
from .auth import AdminAuth
from .endpoint import ApiPart, Endpoint, Param, json_response, parse_bounds, query_float
from .errors import ErrorBody

MAX_CELLS = 5000
FUTURE_SLACK_S = 1.0


class MarketCell(msgspec.Struct, frozen=True):
    """One cell's market state per vehicle type."""

    cell: str
    zone_id: str
    supply: dict[str, int]
    on_trip: dict[str, int]
    demand_1m: dict[str, float]
    demand_5m: dict[str, float]


class MarketCells(msgspec.Struct, frozen=True):
    """Body of ``GET /api/v1/market/cells``."""

    cells: list[MarketCell]
    applied_seq: int


class MarketCellDetail(msgspec.Struct, frozen=True):
    """Body of ``GET /api/v1/market/cells/{cell}``: the cell object plus the applied sequence."""

    cell: str
    zone_id: str
    supply: dict[str, int]
    on_trip: dict[str, int]
    demand_1m: dict[str, float]
    demand_5m: dict[str, float]
    applied_seq: int


class MarketApi(ApiPart):
    """The market inspection endpoints."""

    def __init__(self, state: MarketState, auth: AdminAuth, cell_level: int,
                 config: Callable[[], ConfigSnapshot]) -> None:
        self.state = state
        self.auth = auth
        self.cell_level = cell_level
        self.config = config

    def _at(self, request: web.Request) -> float | None:
        if request.query.get("at") in (None, ""):
            return None
        at = query_float(request, "at", lo=0.0)
        if at > time.time() + FUTURE_SLACK_S:
            raise ApiError("at must not be in the future", field="at", code=Code.OUT_OF_RANGE)
        return at

    def _cell(self, token: str, config: ConfigSnapshot, now: float | None) -> MarketCell:
        detail = self.state.cell_detail(token, now)
        vts = config.vehicle_types
        zero = dict.fromkeys(vts, 0)
        supply, on_trip = dict(zero), dict(zero)
        d1, d5 = dict.fromkeys(vts, 0.0), dict.fromkeys(vts, 0.0)
        for vt, stats in detail.items():
            supply[vt], on_trip[vt] = stats.supply, stats.on_trip
            d1[vt], d5[vt] = stats.demand_1m, stats.demand_5m
        return MarketCell(token, config.zone_index.zone_of_cell(token), supply, on_trip, d1, d5)

    async def list_cells(self, request: web.Request) -> web.Response:
        """Active cells in a box."""
        self.auth.check(request)
        lo_lat, lo_lng, hi_lat, hi_lng = parse_bounds(request.query.get("bounds"))
        at = self._at(request)
        self.state.advance(self.state.now() if at is None else at)
        found = []
        for token in self.state.table.cells:
            lat, lng = cells.center(token)
            if lo_lat <= lat <= hi_lat and lo_lng <= lng <= hi_lng:
                found.append(token)
        if len(found) > MAX_CELLS:
            raise ApiError(f"{len(found)} active cells in bounds; at most {MAX_CELLS} per request: narrow the box",
                           field="bounds", code=Code.VALIDATION)
        config = self.config()
        now = self.state.clock
        body = MarketCells([self._cell(t, config, now) for t in sorted(found)], self.state.applied_seq)
        return json_response(body)

    async def one_cell(self, request: web.Request) -> web.Response:
        """One cell (zeros when quiet)."""
        self.auth.check(request)
        token = request.match_info["cell"]
        if not cells.is_token(token) or cells.level_of(token) != self.cell_level:
            raise ApiError(f"not an S2 cell token of level {self.cell_level}: {token[:40]!r}", field="cell")
        at = self._at(request)
        c = self._cell(token, self.config(), at)
        return json_response(MarketCellDetail(c.cell, c.zone_id, c.supply, c.on_trip, c.demand_1m, c.demand_5m,
                                              self.state.applied_seq))

    def endpoints(self) -> list[Endpoint]:
        """The market endpoints."""
        at = Param("at", "query", {"type": "number"}, description="Evaluate the windows at this epoch time "
                   "(not in the future; default: the node's now).")
        bounds = Param("bounds", "query", {"type": "string", "example": "37.70,-122.52,37.82,-122.35"}, required=True,
                       description="lat1,lng1,lat2,lng2 (south-west corner first).")
        cell = Param("cell", "path", {"type": "string", "example": "8085809c"}, required=True,
                     description="S2 token at the region's cell level.")
        return [
            Endpoint("GET", "/api/v1/market/cells", self.list_cells, "Market state of the active cells in a box.",
                     tags=("market",), auth="admin", params=(bounds, at),
                     responses={200: (MarketCells, "Active cells with supply, on-trip and demand per vehicle type."),
                                400: (ErrorBody, "Bad bounds, bad at, or more than 5000 active cells.")}),
            Endpoint("GET", "/api/v1/market/cells/{cell}", self.one_cell, "Market state of one cell.",
                     tags=("market",), auth="admin", params=(cell, at),
                     responses={200: (MarketCellDetail, "The cell (zeros when it has no activity)."),
                                400: (ErrorBody, "Not a cell token of the region's level.")}),
        ]
