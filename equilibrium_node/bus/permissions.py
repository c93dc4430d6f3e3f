"""The NATS permissions a region's nodes need, and nothing more: the subjects of its own streams and buckets.

Regions that share one NATS cluster are kept apart by naming (:class:`~.names.RegionNames`: every subject,
stream and bucket carries the region). Ops can make that a rule the server enforces: give each region's nodes
a NATS user with :func:`region_permissions` (README, "Operations"); a node that touched another region's
names would get a permissions violation. The test suite runs two regions' nodes under such users.

What a node uses, per stream ``S`` of its region (the four streams and the five ``KV_<bucket>`` streams):
stream info/create/update (provisioning, ``js.key_value``), ephemeral consumers (intake, KV watches: create,
info, delete, pull next), direct and message gets (lease, KV reads), acks and flow control of its
consumers; the ``$KV.<bucket>.>`` subjects of its buckets; ``eq.<region>.>`` (demand signals, DLQ copies,
surge and audit); ``$JS.API.INFO`` (waiting for JetStream); replies on ``_INBOX.>``.
"""

from __future__ import annotations

from .names import RegionNames

_STREAM_API = ("$JS.API.STREAM.INFO.{s}", "$JS.API.STREAM.CREATE.{s}", "$JS.API.STREAM.UPDATE.{s}",
               "$JS.API.STREAM.MSG.GET.{s}", "$JS.API.DIRECT.GET.{s}", "$JS.API.DIRECT.GET.{s}.>",
               "$JS.API.CONSUMER.CREATE.{s}", "$JS.API.CONSUMER.CREATE.{s}.>", "$JS.API.CONSUMER.INFO.{s}.>",
               "$JS.API.CONSUMER.DELETE.{s}.>", "$JS.API.CONSUMER.MSG.NEXT.{s}.>", "$JS.ACK.{s}.>", "$JS.FC.{s}.>")


def region_streams(names: RegionNames) -> list[str]:
    """Every JetStream stream of the region (its streams and the streams behind its buckets)."""
    return [*names.streams, *(f"KV_{bucket}" for bucket in names.buckets)]


def region_permissions(names: RegionNames) -> dict[str, dict[str, list[str]]]:
    """A NATS ``permissions`` block (publish / subscribe allow lists) for the nodes of one region."""
    publish = [f"eq.{names.region}.>", "$JS.API.INFO"]
    for stream in region_streams(names):
        publish += [pattern.format(s=stream) for pattern in _STREAM_API]
    publish += [f"$KV.{bucket}.>" for bucket in names.buckets]
    return {"publish": {"allow": publish}, "subscribe": {"allow": ["_INBOX.>"]}}


def nats_conf_user(user: str, password: str, names: RegionNames) -> str:
    """One ``users`` entry of a nats-server config (its JSON-compatible syntax) for a region's nodes."""
    perms = region_permissions(names)

    def quoted(items: list[str]) -> str:
        return ", ".join(f'"{i}"' for i in items)

    return (f'{{user: "{user}", password: "{password}", permissions: {{\n'
            f'  publish: {{allow: [{quoted(perms["publish"]["allow"])}]}},\n'
            f'  subscribe: {{allow: [{quoted(perms["subscribe"]["allow"])}]}}\n}}}}')


__all__ = ["nats_conf_user", "region_permissions", "region_streams"]
