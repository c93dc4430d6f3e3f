"""The OpenAPI document lists every REST endpoint of issue 5 with its errors."""

from __future__ import annotations

from equilibrium_node.api.admin import AdminApi
from equilibrium_node.api.auth import AdminAuth
from equilibrium_node.api.driver import DriverApi
from equilibrium_node.api.heatmap import HeatmapApi
from equilibrium_node.api.openapi import build_document
from equilibrium_node.api.quotes import QuotesApi
from equilibrium_node.live_config import ConfigStore
from equilibrium_node.metrics import Metrics


def _document(sf_settings) -> dict:
    store = ConfigStore("sf", 13, sf_settings)
    parts = [QuotesApi(None, None, None, None, Metrics(), "n"),  # type: ignore[arg-type]  # endpoints() only
             HeatmapApi(13, lambda: store.current, None, None),  # type: ignore[arg-type]
             DriverApi(lambda: store.current, None, None, sf_settings.driver),  # type: ignore[arg-type]
             AdminApi(store, AdminAuth("t"), "sf")]
    return build_document([ep for part in parts for ep in part.endpoints()], title="t", description="d")


def test_every_endpoint_and_its_errors(sf_settings):
    doc = _document(sf_settings)
    ops = {(m.upper(), p): op for p, methods in doc["paths"].items() for m, op in methods.items()}
    expected = {
        ("POST", "/api/v1/pricing/estimate"): {"200", "400", "413", "500"},
        ("GET", "/api/v1/pricing/quotes/{quote_id}"): {"200", "400", "404", "500", "503"},
        ("POST", "/api/v1/pricing/quotes/{quote_id}/accept"): {"200", "400", "404", "409", "410", "500", "503"},
        ("GET", "/api/v1/pricing/heatmap"): {"200", "400", "500"},
        ("GET", "/api/v1/driver/heatmap"): {"200", "400", "404", "500", "503"},
        ("GET", "/api/v1/admin/zones"): {"200", "401", "403", "500"},
        ("GET", "/api/v1/admin/zones/{zone_id}"): {"200", "400", "401", "403", "404", "500"},
        ("PUT", "/api/v1/admin/zones/{zone_id}"): {"200", "201", "400", "401", "403", "404", "413", "500", "503"},
        ("GET", "/api/v1/admin/rules"): {"200", "401", "403", "500"},
        ("PUT", "/api/v1/admin/rules"): {"200", "400", "401", "403", "413", "500", "503"},
        ("GET", "/api/v1/admin/signals"): {"200", "401", "403", "500"},
        ("POST", "/api/v1/admin/signals"): {"201", "400", "401", "403", "413", "500", "503"},
        ("DELETE", "/api/v1/admin/signals/{signal_id}"): {"204", "400", "401", "403", "404", "500", "503"},
    }
    assert set(ops) == set(expected)
    for key, statuses in expected.items():
        assert set(ops[key]["responses"]) == statuses, key
        for status, response in ops[key]["responses"].items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
        if key[1].startswith("/api/v1/admin/"):
            assert ops[key]["security"] == [{"adminBearer": []}]
    estimate = ops[("POST", "/api/v1/pricing/estimate")]
    assert set(estimate["responses"]["200"]["links"]) == {"status", "accept"}
    schemas = doc["components"]["schemas"]
    lat = schemas["Location"]["properties"]["latitude"]
    assert (lat["minimum"], lat["maximum"]) == (-90.0, 90.0)
    assert {"quote_id", "base_fare", "surge_multiplier", "final_fare", "currency", "quote_valid_until",
            "estimated_duration", "estimated_distance", "zone_info"} <= set(schemas["EstimateResponse"]["required"])
