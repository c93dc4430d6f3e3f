"""Loading the configuration once: TOML file, then ``EQ_*`` environment, then command-line options.

Every error names the field and where its value came from (``file config/sf.toml``,
``environment EQ_MARKET_SUPPLY_TTL_S`` or ``option --http``) so that the command line can print one
line and exit 2.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import typing
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from ..errors import ConfigError
from ..geo.zones import geometry_error
from .model import Settings

ENV_PREFIX = "EQ_"
#: Variables with the EQ_ prefix that are not config fields.
ENV_EXTRA = {"EQ_CONFIG": "path of the config file (same as --config)"}
_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`$")


@dataclass(frozen=True, slots=True)
class Leaf:
    """One configurable field: its dotted path, environment name, type and owning Struct."""

    path: str
    env: str
    annotation: Any
    owner: type
    name: str


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


def iter_leaves(cls: type = Settings, prefix: tuple[str, ...] = ()) -> Iterator[Leaf]:
    """Yield every leaf field of the settings tree (sections are expanded, lists and dicts are leaves)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    for name in cls.__struct_fields__:
        annotation = hints[name]
        path = (*prefix, name)
        if _is_section(annotation) and not prefix:
            yield from iter_leaves(annotation, path)
            continue
        yield Leaf(".".join(path), ENV_PREFIX + "_".join(path).upper(), annotation, cls, name)


def env_names() -> dict[str, Leaf]:
    """Map every accepted ``EQ_*`` variable to its field."""
    return {leaf.env: leaf for leaf in iter_leaves()}


def _scalar_base(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _parse_env(leaf: Leaf, raw: str) -> Any:
    base = _scalar_base(leaf.annotation)
    origin = typing.get_origin(base)
    if origin in (list, dict) or _is_section(base) or base in (list, dict):
        value: Any = msgspec.json.decode(raw.encode())
    elif base is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            value = True
        elif lowered in ("0", "false", "no", "off", ""):
            value = False
        else:
            raise msgspec.ValidationError(f"Expected a boolean (true/false), got {raw!r}")
    else:
        value = raw
    return msgspec.convert(value, leaf.annotation, strict=False)


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[last] = value


def _clean(message: str) -> tuple[str, str | None]:
    match = _PATH_RE.search(message)
    if not match:
        return message, None
    path = match.group("path").lstrip(".")
    return message[: match.start()], path or None


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning I/O and syntax errors into :class:`ConfigError`."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("file not found", source=f"file {path}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(exc), source=f"file {path}") from None


def load_settings(
    path: str | Path | None,
    env: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> Settings:
    """Decode the configuration: ``path`` (TOML), then ``EQ_*`` variables of ``env``, then ``options``.

    ``options`` maps dotted field paths (``nats.url``) to values from the command line.
    """
    env = os.environ if env is None else env
    doc: dict[str, Any] = {}
    sources: dict[str, str] = {}
    file_source = "defaults"
    if path is not None:
        file_source = f"file {path}"
        doc = read_toml(Path(path))

    leaves = env_names()
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_EXTRA:
            continue
        leaf = leaves.get(name)
        if leaf is None:
            close = difflib.get_close_matches(name, [*leaves, *ENV_EXTRA], n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"unknown variable{hint}", source=f"environment {name}")
        try:
            value = _parse_env(leaf, raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            message, _ = _clean(str(exc))
            raise ConfigError(message, field=leaf.path, source=f"environment {name}") from None
        _set_path(doc, leaf.path, msgspec.to_builtins(value))
        sources[leaf.path] = f"environment {name}"

    for dotted, value in (options or {}).items():
        if value is None:
            continue
        _set_path(doc, dotted, value)
        sources[dotted] = f"option --{dotted.rsplit('.', 1)[-1].replace('_', '-')}"

    try:
        settings = msgspec.convert(doc, Settings)
    except msgspec.ValidationError as exc:
        message, field_path = _clean(str(exc))
        source = file_source
        if field_path:
            for known, src in sources.items():
                if field_path == known or field_path.startswith(known + ".") or field_path.startswith(known + "["):
                    source = src
        raise ConfigError(message, field=field_path, source=source) from None
    check(settings, lambda p: sources.get(p, file_source))
    return settings


def check(settings: Settings, source_of: typing.Callable[[str], str] = lambda _p: "defaults") -> None:
    """Cross-field checks msgspec constraints cannot express."""

    def fail(path: str, message: str) -> typing.NoReturn:
        raise ConfigError(message, field=path, source=source_of(path))

    _host, sep, port = settings.http.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        fail("http", f"expected host:port, got {settings.http!r}")
    try:
        zoneinfo.ZoneInfo(settings.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        fail("timezone", f"unknown time zone {settings.timezone!r}")
    if not settings.fares:
        fail("fares", "at least one vehicle type is needed")
    for vt in settings.fares:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", vt):
            fail(f"fares.{vt}", "vehicle type must match ^[a-z][a-z0-9_]{0,31}$")
    seen: set[str] = set()
    for i, zone in enumerate(settings.zones):
        if zone.id in seen:
            fail(f"zones[{i}].id", f"duplicate zone id {zone.id!r}")
        seen.add(zone.id)
        if zone.max_multiplier < zone.min_multiplier:
            fail(f"zones[{i}].max_multiplier", "must be >= min_multiplier")
        if zone.id == f"{settings.region}_default":
            fail(f"zones[{i}].id", "reserved for cells in no zone")
        problem = geometry_error(zone.geometry.type, zone.geometry.coordinates)
        if problem:
            fail(f"zones[{i}].geometry", problem)
    if settings.map.outline:
        problem = geometry_error("MultiPolygon", [[ring] for ring in settings.map.outline])
        if problem:
            fail("map.outline", problem)
    view = settings.map.view
    if view and (len(view) != 4 or not (-90 <= view[0] < view[2] <= 90 and -180 <= view[1] < view[3] <= 180)):
        fail("map.view", "expected lat1,lng1,lat2,lng2 with the south-west corner first")
    thresholds = settings.rules.demand_level_thresholds
    if len(thresholds) != 3 or sorted(thresholds) != list(thresholds):
        fail("rules.demand_level_thresholds", "expected three ascending ratios")
    if settings.pricing.fallback_after_s < settings.pricing.stale_after_s:
        fail("pricing.fallback_after_s", "must be >= pricing.stale_after_s")
    if settings.cluster.heartbeat_s >= settings.cluster.lease_ttl_s:
        # heartbeats expire with the nodes bucket's max age (the lease TTL): a slower beat would flicker
        fail("cluster.heartbeat_s", "must be < cluster.lease_ttl_s")
    if settings.nats.url and settings.nats.creds_file and not Path(settings.nats.creds_file).is_file():
        fail("nats.creds_file", f"no such file {settings.nats.creds_file!r}")
