"""Every bad input gets its reject reason; good input passes the fast path; decoding splits a batch."""

from __future__ import annotations

import orjson
import pytest

from equilibrium_node.errors import Reject
from equilibrium_node.intake.decode import decode_batch
from equilibrium_node.intake.pull import parse_reply
from equilibrium_node.intake.validate import driver_decoder, reject_reason, rider_decoder

VTS = frozenset({"standard", "xl"})
PING = {"event_id": "e1", "driver_id": "d1", "lat": 37.7, "lng": -122.4, "status": "available",
        "vehicle_type": "standard", "ts": 1000.0}
SIGNAL = {"event_id": "e2", "rider_id": "r1", "lat": 37.7, "lng": -122.4, "kind": "quote",
          "vehicle_type": "xl", "ts": 1000.0}


def mutate(base: dict, **changes) -> bytes:
    body = dict(base)
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return orjson.dumps(body)


@pytest.mark.parametrize(("raw", "kind", "reason"), [
    (b"{not json", "driver", Reject.NOT_JSON),
    (b"\xff\xfe", "rider", Reject.NOT_JSON),
    (b"[1, 2]", "driver", Reject.BAD_TYPE),
    (mutate(PING, lat=...), "driver", Reject.MISSING_FIELD),
    (mutate(SIGNAL, rider_id=...), "rider", Reject.MISSING_FIELD),
    (mutate(PING, lat="37.7"), "driver", Reject.BAD_TYPE),
    (mutate(PING, ts=True), "driver", Reject.BAD_TYPE),
    (mutate(PING, driver_id=17), "driver", Reject.BAD_TYPE),
    (mutate(PING, lat=90.5), "driver", Reject.OUT_OF_RANGE),
    (mutate(SIGNAL, lng=-180.01), "rider", Reject.OUT_OF_RANGE),
    (mutate(PING, ts=0), "driver", Reject.OUT_OF_RANGE),
    (b'{"event_id":"e","driver_id":"d","lat":NaN,"lng":1,"status":"available","vehicle_type":"standard","ts":1}',
     "driver", Reject.NOT_FINITE),
    (b'{"event_id":"e","driver_id":"d","lat":1,"lng":Infinity,"status":"available","vehicle_type":"standard","ts":1}',
     "driver", Reject.NOT_FINITE),
    (b'{"event_id":"e","driver_id":"d","lat":1,"lng":1e999,"status":"available","vehicle_type":"standard","ts":1}',
     "driver", Reject.NOT_FINITE),
    (mutate(PING, status="asleep"), "driver", Reject.UNKNOWN_STATUS),
    (mutate(SIGNAL, kind="browse"), "rider", Reject.UNKNOWN_KIND),
    (mutate(PING, vehicle_type="hovercraft"), "driver", Reject.UNKNOWN_VEHICLE_TYPE),
    (mutate(PING, event_id="x" * 65), "driver", Reject.STRING_TOO_LONG),
    (mutate(SIGNAL, vehicle_type="v" * 65), "rider", Reject.STRING_TOO_LONG),
])
def test_reject_reasons(raw, kind, reason):
    assert reject_reason(raw, kind, VTS) == reason
    decoder = driver_decoder if kind == "driver" else rider_decoder
    if reason != Reject.UNKNOWN_VEHICLE_TYPE:
        with pytest.raises(Exception):  # noqa: B017 - the fast path refuses it (any msgspec error)
            decoder.decode(raw)


def test_good_input_passes_both_paths_and_extra_fields_are_allowed():
    raw = mutate(PING, extra_field={"x": 1}, event_id="x" * 64)
    assert reject_reason(raw, "driver", VTS) is None
    assert driver_decoder.decode(raw).event_id == "x" * 64
    assert reject_reason(orjson.dumps(SIGNAL), "rider", VTS) is None
    assert reject_reason(mutate(PING, lat=-90, lng=180), "driver", VTS) is None


def test_decode_batch_splits_rejects_and_too_old():
    subjects = ["eq.sf.location.driver", "eq.sf.location.rider", "eq.sf.location.driver", "eq.sf.location.bike",
                "eq.sf.location.rider", "eq.sf.location.driver"]
    payloads = [orjson.dumps(PING), orjson.dumps(SIGNAL), b"garbage", orjson.dumps(PING),
                mutate(SIGNAL, ts=600.0), mutate(PING, driver_id="d2", status="on_trip", ts=1000.5)]
    ts_ns = [int(1000.2e9)] * 6
    out = decode_batch(subjects, payloads, ts_ns, driver_subject="eq.sf.location.driver",
                       rider_subject="eq.sf.location.rider", vehicle_types=VTS, max_event_age_s=300.0)
    assert out.rejects == [(2, Reject.NOT_JSON), (3, Reject.UNKNOWN_SUBJECT)]
    assert out.too_old == {"driver": 0, "rider": 1}  # device ts 600 vs stream time 1000.2
    assert out.drivers.ids == ["d1", "d2"] and out.drivers.codes == [0, 1]
    assert out.drivers.stream_ts == [1000.2, 1000.2] and out.drivers.device_ts == [1000.0, 1000.5]
    assert out.riders.ids == ["r1"] and out.riders.codes == [1] and out.riders.vehicle_types == ["xl"]


def test_parse_reply_v1_and_v2():
    assert parse_reply("$JS.ACK.EQ_LOC_SF.eqi_x.1.194777.194770.1795585161846412146.5223") == (
        194777, 194770, 1795585161846412146, 5223)
    assert parse_reply("$JS.ACK._.ACCHASH.EQ_LOC_SF.eqi_x.1.42.41.1795585161846412146.0.rnd") == (
        42, 41, 1795585161846412146, 0)
