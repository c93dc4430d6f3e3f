"""Request decoding and parameter validation helpers."""

from __future__ import annotations

import msgspec
import pytest

from equilibrium_node.api.endpoint import BodyDecoder, parse_bounds
from equilibrium_node.errors import ApiError


class Point(msgspec.Struct):
    latitude: float
    longitude: float


class Body(msgspec.Struct):
    pickup_location: Point


def test_body_decoder_names_the_field():
    dec = BodyDecoder(Body)
    with pytest.raises(ApiError) as info:
        dec.decode(b'{"pickup_location": {"latitude": "x", "longitude": 1}}')
    assert info.value.field == "pickup_location.latitude" and info.value.status == 400
    with pytest.raises(ApiError) as info:
        dec.decode(b"{not json")
    assert info.value.code == "bad_json"
    with pytest.raises(ApiError):
        dec.decode(b"")


@pytest.mark.parametrize("raw", ["1,2,3", "a,b,c,d", "91,0,92,1", "10,10,5,5", "nan,0,1,1", ""])
def test_bad_bounds(raw):
    with pytest.raises(ApiError) as info:
        parse_bounds(raw)
    assert info.value.field == "bounds"


def test_good_bounds():
    assert parse_bounds("37.7,-122.5,37.8,-122.4") == (37.7, -122.5, 37.8, -122.4)
