"""Driver recommendations from the driver's last ping (market state) and the served multipliers."""

from __future__ import annotations

import time

import msgspec
import pytest

from tests.support.api import call, put_surge, surge_update, wait_for
from tests.support.nodeproc import NodeProcess, node_env
from tests.support.ports import free_port

DRIVER = (37.7790, -122.4060)  # SoMa
BASE_HOURLY = 32.0  # config/sf.toml [driver]


async def test_driver_heatmap_ranks_zones_by_expected_earnings(tmp_path, nats_server, nats_client):
    _nc, js = nats_client
    port = free_port()
    env = node_env(tmp_path / "data", port, EQ_NATS_URL=nats_server.url)
    with NodeProcess(tmp_path, env=env, http_port=port) as node:
        node.wait_ready()
        ping = {"event_id": "p-1", "driver_id": "d-42", "lat": DRIVER[0], "lng": DRIVER[1], "status": "available",
                "vehicle_type": "standard", "ts": time.time()}
        await js.publish("eq.sf.location.driver", msgspec.json.encode(ping), headers={"Nats-Msg-Id": "p-1"})
        # served cells away from the driver's own cell: the Mission hot, the Financial District warm, SFO far away
        for update in (surge_update(37.7600, -122.4180, 2.0, zone_id="mission", supply=0, demand=6,
                                    trend="increasing"),
                       surge_update(37.7950, -122.3960, 1.5, zone_id="financial_district", supply=3, demand=2,
                                    trend="decreasing"),
                       surge_update(37.6160, -122.3860, 3.0, zone_id="sfo_airport", supply=0, demand=9)):
            await put_surge(js, "sf", update)

        def ranked():
            status, body = call(node.base_url, "GET", "/api/v1/driver/heatmap?driver_id=d-42&radius=5000")
            ids = [z["zone_id"] for z in body["recommended_zones"]] if status == 200 else []
            return body if {"mission", "financial_district"} <= set(ids) else None

        body = wait_for(ranked, timeout=10.0, what="driver heatmap with both zones")
        assert body["degraded"] is False
        assert body["current_location"] == {"latitude": DRIVER[0], "longitude": DRIVER[1]}
        zones = body["recommended_zones"]
        earnings = [z["estimated_earnings_per_hour"] for z in zones]
        assert earnings == sorted(earnings, reverse=True)
        assert zones[0]["zone_id"] == "mission"
        by_id = {z["zone_id"]: z for z in zones}
        assert by_id["mission"]["estimated_earnings_per_hour"] == pytest.approx(2.0 * BASE_HOURLY * 0.95)
        assert by_id["mission"]["demand_trend"] == "increasing" and 1500 < by_id["mission"]["distance_meters"] < 5000
        # 2 riders / (3 drivers + this one) = 0.5 utilisation
        assert by_id["financial_district"]["estimated_earnings_per_hour"] == pytest.approx(1.5 * BASE_HOURLY * 0.5)
        assert by_id["financial_district"]["demand_trend"] == "decreasing"
        assert "sfo_airport" not in by_id  # 18 km away
        assert by_id["soma"]["distance_meters"] == 0.0  # the driver's own zone

        status, err = call(node.base_url, "GET", "/api/v1/driver/heatmap?driver_id=nobody")
        assert status == 404 and err["error"]["field"] == "driver_id"
        status, err = call(node.base_url, "GET", "/api/v1/driver/heatmap?driver_id=d-42&radius=10")
        assert status == 400 and err["error"]["field"] == "radius"
        status, err = call(node.base_url, "GET", "/api/v1/driver/heatmap")
        assert status == 400 and err["error"]["field"] == "driver_id"
        status, err = call(node.base_url, "GET", "/api/v1/driver/heatmap?driver_id=&lat=37.7&lng=-122.4")
        assert status == 400 and err["error"]["field"] == "driver_id"

        # the same from a point (a driver app before its first ping, the page's driver view)
        status, point = call(node.base_url, "GET", f"/api/v1/driver/heatmap?lat={DRIVER[0]}&lng={DRIVER[1]}"
                             "&vehicle_type=standard&radius=5000")
        assert status == 200, point
        assert point["recommended_zones"] == zones and point["vehicle_type"] == "standard"
        assert point["current_location"] == {"latitude": DRIVER[0], "longitude": DRIVER[1]}
        status, xl = call(node.base_url, "GET",
                          f"/api/v1/driver/heatmap?lat={DRIVER[0]}&lng={DRIVER[1]}&vehicle_type=xl")
        assert status == 200 and xl["vehicle_type"] == "xl" and xl["recommended_zones"][0]["surge_multiplier"] == 1.0
        for query, field in (("lat=37.7", "lng"), ("lat=91&lng=-122.4", "lat"), ("lat=37.7&lng=x", "lng"),
                             ("lat=37.7&lng=-122.4&vehicle_type=boat", "vehicle_type")):
            status, err = call(node.base_url, "GET", f"/api/v1/driver/heatmap?{query}")
            assert status == 400 and err["error"]["field"] == field, (query, err)
