"""The quote calculation from the live config and the surge mirror's entries (no I/O)."""

from __future__ import annotations

import msgspec
import pytest

from equilibrium_node.errors import ApiError
from equilibrium_node.geo import cells
from equilibrium_node.live_config import ConfigStore
from equilibrium_node.messages import SurgeUpdate, surge_key
from equilibrium_node.quotes.quoter import Quoter, Trip
from equilibrium_node.quotes.token import QuoteSigner
from equilibrium_node.serving.degraded import Freshness
from equilibrium_node.serving.surge_view import SurgeEntry, SurgeView
from equilibrium_node.settings import Fare

PICKUP = (37.7880, -122.4000)
DROPOFF = (37.7700, -122.4200)


def _quoter(sf_settings, state="fresh"):
    settings = msgspec.structs.replace(sf_settings, fares={**sf_settings.fares, "flat": Fare(base=8.5, per_km=0,
                                                                                                per_min=0)})
    store = ConfigStore("sf", 13, settings)
    view = SurgeView(None, "eq_sf_surge")  # type: ignore[arg-type]  # entries set by hand, no watch
    quoter = Quoter("sf", 13, "USD", "America/Los_Angeles", settings.quote, lambda: store.current, view,
                    lambda: Freshness(state, 0.0), QuoteSigner("k", "sf"))
    return quoter, view


def _surge(view, vt, m, level="high"):
    cell = cells.cell_token(*PICKUP, 13)
    update = SurgeUpdate(cell=cell, zone_id="financial_district", vehicle_type=vt, multiplier=m, supply=1, demand=3,
                         demand_level=level, trend="increasing", algorithm="linear", rev=1,
                         updated_at="2024-01-01T00:00:00Z")
    view.entries[surge_key(cell, vt)] = SurgeEntry(update, 1, msgspec.json.encode(update))


def test_contract_example_through_the_quoter(sf_settings):
    quoter, view = _quoter(sf_settings)
    _surge(view, "flat", 1.3)
    q = quoter.quote(Trip(*PICKUP, *DROPOFF, "flat", "u1"), now_s=1_700_000_000.0)
    c = q.claims
    assert (c.base_cents, c.multiplier, c.final_cents) == (850, 1.3, 1105)
    assert c.zone_id == "financial_district" and q.demand_level == "high" and not c.degraded
    assert c.expires_ms - c.issued_ms == 120_000
    assert c.pickup_cell == cells.cell_token(*PICKUP, 13) and c.dropoff_cell == cells.cell_token(*DROPOFF, 13)
    assert QuoteSigner("k", "sf").verify(q.quote_id).claims == c


def test_unpriced_cell_is_10_and_low(sf_settings):
    quoter, _ = _quoter(sf_settings)
    q = quoter.quote(Trip(*PICKUP, *DROPOFF, "standard", "u1"))
    assert q.claims.multiplier == 1.0 and q.demand_level == "low"
    assert q.claims.final_cents == q.claims.base_cents > 800


@pytest.mark.parametrize(("state", "served", "degraded"), [("stale", 1.7, True), ("fallback", 1.0, True)])
def test_degraded_states(sf_settings, state, served, degraded):
    quoter, view = _quoter(sf_settings, state)
    _surge(view, "standard", 1.7)
    c = quoter.quote(Trip(*PICKUP, *DROPOFF, "standard", "u1")).claims
    assert c.multiplier == served and c.degraded is degraded


def test_unknown_vehicle_type(sf_settings):
    quoter, _ = _quoter(sf_settings)
    with pytest.raises(ApiError) as info:
        quoter.quote(Trip(*PICKUP, *DROPOFF, "rocket", "u1"))
    assert info.value.code == "unknown_vehicle_type" and info.value.field == "vehicle_type"
