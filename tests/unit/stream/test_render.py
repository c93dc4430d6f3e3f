"""Viewport groups draw exactly the REST heatmap's cells, encoding shared cells once."""

from __future__ import annotations

import msgspec

from equilibrium_node.messages import SurgeUpdate, surge_key
from equilibrium_node.serving.heatmap import viewport_cells
from equilibrium_node.serving.surge_view import SurgeEntry
from equilibrium_node.stream.group import ViewGroup
from equilibrium_node.stream.index import ViewIndex
from equilibrium_node.stream.render import CellRenderer
from equilibrium_node.stream.viewport import Viewport
from tests.support.streams import cells_in

AREA = (37.70, -122.52, 37.82, -122.36)


def _entries(tokens, vehicle_type="standard") -> dict[str, SurgeEntry]:
    out = {}
    for i, token in enumerate(tokens):
        update = SurgeUpdate(cell=token, zone_id="z", vehicle_type=vehicle_type,
                             multiplier=round(1 + (i % 9) * 0.25, 2), supply=i % 5, demand=i % 7,
                             demand_level=("low", "normal", "high", "very_high")[i % 4], trend="stable",
                             algorithm="linear", rev=i, updated_at=f"2026-01-01T00:00:{i % 60:02d}Z")
        out[surge_key(token, vehicle_type)] = SurgeEntry(update, i + 1, b"")
    return out


def _group(index: ViewIndex, entries, bounds, zoom) -> ViewGroup:
    level = min(13, max(6, zoom + 1))
    group = ViewGroup(Viewport("standard", level, bounds))
    for key in entries:
        index.groups_of(key)
    index.add_group(group)
    return group


def _decoded(renderer: CellRenderer, group: ViewGroup) -> list[dict]:
    cells, removed, _ = renderer.render_many(group, sorted(group.members))
    assert removed == []
    return [msgspec.json.decode(c) for c in cells]


def test_groups_match_the_rest_heatmap_at_every_zoom():
    tokens = cells_in(AREA)
    entries = _entries(tokens)
    updates = [e.update for e in entries.values()]
    renderer = CellRenderer(entries, 13)
    # boxes that cut parent cells (border parents show only their visible children, as in REST)
    for bounds in [(37.74, -122.47, 37.79, -122.40), AREA, (37.7512, -122.4433, 37.7733, -122.4011)]:
        for zoom in (15, 12, 11, 10, 8, 5):
            index = ViewIndex(13)
            group = _group(index, entries, bounds, zoom)
            expected = msgspec.to_builtins(viewport_cells(updates, bounds, zoom, 13))
            assert _decoded(renderer, group) == expected, (bounds, zoom)


def test_shared_cells_are_encoded_once_until_a_child_changes():
    tokens = cells_in(AREA)
    entries = _entries(tokens)
    renderer = CellRenderer(entries, 13)
    index = ViewIndex(13)
    a = _group(index, entries, AREA, 14)
    b = ViewGroup(Viewport("standard", 13, (37.74, -122.47, 37.79, -122.40)))
    index.add_group(b)
    renderer.render_many(a, a.members)
    encoded = renderer.encoded
    renderer.render_many(b, b.members)
    assert renderer.encoded == encoded  # every cell of b was already encoded for a
    token = sorted(b.members)[0]
    key = surge_key(token, "standard")
    entries[key] = SurgeEntry(msgspec.structs.replace(entries[key].update, multiplier=4.5), 999, b"")
    renderer.invalidate("standard", token, {13})
    cells, _, _ = renderer.render_many(b, [token])
    assert renderer.encoded == encoded + 1 and msgspec.json.decode(cells[0])["surge_multiplier"] == 4.5
    del entries[key]
    renderer.invalidate("standard", token, {13})
    assert renderer.render_many(b, [token])[1] == [token]  # gone: listed as removed


def test_index_finds_groups_of_new_and_old_keys_and_forgets_groups():
    tokens = cells_in(AREA)
    index = ViewIndex(13)
    first = _entries(tokens[:10])
    group = _group(index, first, AREA, 13)
    assert set(group.key_parent) == set(first)
    later = surge_key(tokens[50], "standard")
    assert index.groups_of(later) == {group: tokens[50]}  # a key first seen after the group exists
    assert later in group.key_parent
    assert index.groups_of(surge_key(tokens[50], "xl")) == {}  # another vehicle type
    assert index.groups_of("zzz.standard") == {}  # not a cell token
    index.remove_group(group)
    assert index.groups_of(later) == {} and index.group_count() == 0
