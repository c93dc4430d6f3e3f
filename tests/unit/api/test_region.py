"""``GET /api/v1/region``: what the page needs to draw the region, from the settings and the live config."""

from __future__ import annotations

import msgspec

from equilibrium_node.api.region import RegionApi, RegionInfo
from equilibrium_node.live_config import ConfigStore
from equilibrium_node.serving.heatmap import COLOR_SCALE
from equilibrium_node.settings import MapSettings


def _api(settings, map_settings=None) -> tuple[RegionApi, ConfigStore]:
    store = ConfigStore(settings.region, settings.cell_level, settings)
    api = RegionApi(settings.region, settings.region_name, settings.timezone, settings.currency, settings.cell_level,
                    map_settings or settings.map, lambda: store.current)
    return api, store


def test_region_document_of_the_bundled_config(sf_settings):
    api, _store = _api(sf_settings)
    info = msgspec.json.decode(msgspec.json.encode(api.info()), type=RegionInfo)  # round-trips its own schema
    assert info.region == "sf" and info.region_name == "San Francisco" and info.currency == "USD"
    assert info.vehicle_types == ["standard", "xl", "premium"]
    assert [z.zone_id for z in info.zones] == [z.id for z in sf_settings.zones]
    fidi = next(z for z in info.zones if z.zone_id == "financial_district")
    assert fidi.max_multiplier == 3.5 and fidi.geometry.type == "Polygon"
    assert 37.788 < fidi.center.latitude < 37.80 and -122.404 < fidi.center.longitude < -122.383
    assert info.view == sf_settings.map.view and info.outline == sf_settings.map.outline and len(info.outline) == 2
    assert info.default_zone_id == "sf_default"
    assert [(s.min_multiplier, s.color) for s in info.color_scale] == list(reversed(COLOR_SCALE))
    assert info.tiles is not None and "{z}" in info.tiles.url


def test_view_defaults_to_the_zones_and_tiles_can_be_turned_off(sf_settings):
    api, _store = _api(sf_settings, MapSettings(tiles_url=""))
    info = api.info()
    lat1, lng1, lat2, lng2 = info.view
    assert lat1 < 37.61 and lat2 > 37.80 and lng1 < -122.50 and lng2 > -122.36  # SFO to North Beach
    assert info.tiles is None and info.outline == []
