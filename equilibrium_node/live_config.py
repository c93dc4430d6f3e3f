"""Live configuration: rules, zones and fares in KV ``eq_<region>_config``, watched by every node.

The TOML seeds the bucket on the first start (``create``: a key someone already changed is never
overwritten by a restart). Every node watches the bucket and swaps in a new immutable
:class:`ConfigSnapshot` per accepted change, so a tick or a quote always reads one consistent
version. A value that fails validation (bad JSON, wrong type, max < min, unknown algorithm) is
logged with its reason and ignored: the previous config stays in force.

Keys: ``rules``, ``zone.<zone_id>``, ``fares.<vehicle_type>`` (CONTRACT.md), and ``signal.<id>``:
time-limited weather / event factors for a zone, written by ``POST /api/v1/admin/signals``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from .errors import ApiError, Code
from .geo.zones import ZoneIndex, geometry_error
from .logs import get_logger
from .settings import Fare, Rules, Settings, ZoneConfig

log = get_logger(__name__)

RULES_KEY = "rules"
ZONE_PREFIX = "zone."
FARE_PREFIX = "fares."
SIGNAL_PREFIX = "signal."


class Signal(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A weather or event signal: multiplies a zone's prices by ``factor`` until ``expires_at``."""

    id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,64}$", description="Signal id (key signal.<id>).")]
    zone_id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,64}$", description="Zone it applies to.")]
    kind: Annotated[Literal["weather", "event"], msgspec.Meta(description="What caused it.")]
    factor: Annotated[float, msgspec.Meta(ge=0.5, le=3.0, description="Factor on the zone's multipliers.")]
    reason: Annotated[str, msgspec.Meta(max_length=200, description="Shown in explain and the audit.")] = ""
    created_at: Annotated[float, msgspec.Meta(ge=0, description="Epoch seconds.")] = 0.0
    expires_at: Annotated[float, msgspec.Meta(ge=0, description="Epoch seconds; ignored afterwards.")]

    def active(self, now: float) -> bool:
        """True until it expires."""
        return now < self.expires_at

#: Extra checks other components register (e.g. pricing: "is this algorithm known?").
#: Called with the decoded document; return an (error message, field) pair or None.
Validator = Callable[[Any], "tuple[str, str] | None"]

_rules_decoder = msgspec.json.Decoder(Rules)
_zone_decoder = msgspec.json.Decoder(ZoneConfig)
_fare_decoder = msgspec.json.Decoder(Fare)
_signal_decoder = msgspec.json.Decoder(Signal)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class ConfigSnapshot:
    """One consistent version of the live config."""

    rules: Rules
    zones: Mapping[str, ZoneConfig]
    fares: Mapping[str, Fare]
    zone_index: ZoneIndex
    signals: Mapping[str, Signal] = field(default_factory=dict)
    version: int = 0

    @property
    def vehicle_types(self) -> tuple[str, ...]:
        """Vehicle types with a fare."""
        return tuple(self.fares)

    def zone(self, zone_id: str) -> ZoneConfig | None:
        """A zone's config (None for the default zone)."""
        return self.zones.get(zone_id)

    def active_signals(self, zone_id: str, now: float) -> list[Signal]:
        """Signals of a zone that have not expired at ``now`` (epoch seconds)."""
        return [sig for sig in self.signals.values() if sig.zone_id == zone_id and sig.active(now)]


def _field_of(exc: msgspec.ValidationError) -> tuple[str, str | None]:
    text = str(exc)
    marker = " - at `$"
    if marker in text:
        message, _, path = text.partition(marker)
        return message, path.rstrip("`").lstrip(".") or None
    return text, None


@dataclass
class ConfigStore:
    """The live config of a region: seeding, validation, watching, writing (a node service)."""

    name: ClassVar[str] = "config"

    region: str
    cell_level: int
    seed_settings: Settings
    kv: KeyValue | None = None
    validators: dict[str, list[Validator]] = field(
        default_factory=lambda: {"rules": [], "zone": [], "fare": [], "signal": []})

    def __post_init__(self) -> None:
        s = self.seed_settings
        self._listeners: list[Callable[[ConfigSnapshot], None]] = []
        self.current = self._snapshot(s.rules, {z.id: z for z in s.zones}, dict(s.fares), {}, 0)
        self.loaded = asyncio.Event()
        self._watcher: Any = None

    def _snapshot(self, rules: Rules, zones: dict[str, ZoneConfig], fares: dict[str, Fare],
                  signals: dict[str, Signal], version: int) -> ConfigSnapshot:
        index = ZoneIndex(list(zones.values()), self.region, self.cell_level)
        return ConfigSnapshot(rules, MappingProxyType(dict(zones)), MappingProxyType(dict(fares)), index,
                              MappingProxyType(dict(signals)), version)

    def on_change(self, listener: Callable[[ConfigSnapshot], None]) -> None:
        """Call ``listener`` with every new snapshot."""
        self._listeners.append(listener)

    def add_validator(self, kind: str, validator: Validator) -> None:
        """Register an extra check for ``rules``, ``zone`` or ``fare`` documents."""
        self.validators[kind].append(validator)

    # validation -----------------------------------------------------------------------------------
    def _run_validators(self, kind: str, doc: Any) -> None:
        for check in self.validators[kind]:
            problem = check(doc)
            if problem:
                raise ApiError(problem[0], code=Code.VALIDATION, field=problem[1], status=400)

    def validate(self, key: str, raw: bytes) -> Rules | ZoneConfig | Fare | Signal:
        """Decode and check one config document; :class:`ApiError` (400) names the field."""
        try:
            if key == RULES_KEY:
                rules = _rules_decoder.decode(raw)
                t = rules.demand_level_thresholds
                if len(t) != 3 or sorted(t) != list(t):
                    raise ApiError("expected three ascending ratios", field="demand_level_thresholds")
                self._run_validators("rules", rules)
                return rules
            if key.startswith(ZONE_PREFIX):
                zone = _zone_decoder.decode(raw)
                if zone.id != key[len(ZONE_PREFIX):]:
                    raise ApiError(f"zone id {zone.id!r} does not match its key {key!r}", field="id")
                if zone.id == f"{self.region}_default":
                    raise ApiError("this id is reserved for cells in no zone", field="id")
                if zone.max_multiplier < zone.min_multiplier:
                    raise ApiError("max_multiplier must be >= min_multiplier", field="max_multiplier")
                problem = geometry_error(zone.geometry.type, zone.geometry.coordinates)
                if problem:
                    raise ApiError(problem, field="geometry")
                self._run_validators("zone", zone)
                return zone
            if key.startswith(FARE_PREFIX):
                fare = _fare_decoder.decode(raw)
                self._run_validators("fare", fare)
                return fare
            if key.startswith(SIGNAL_PREFIX):
                signal = _signal_decoder.decode(raw)
                if signal.id != key[len(SIGNAL_PREFIX):]:
                    raise ApiError(f"signal id {signal.id!r} does not match its key {key!r}", field="id")
                self._run_validators("signal", signal)
                return signal
        except msgspec.ValidationError as exc:
            message, path = _field_of(exc)
            raise ApiError(message, code=Code.VALIDATION, field=path) from None
        except msgspec.DecodeError as exc:
            raise ApiError(f"malformed JSON: {exc}", code=Code.BAD_JSON) from None
        raise ApiError(f"unknown config key {key!r}", field="key")

    # applying -------------------------------------------------------------------------------------
    def apply(self, key: str, raw: bytes | None) -> bool:
        """Apply one bucket entry (``raw`` None: deleted); False when rejected (old config stays)."""
        cur = self.current
        rules, zones, fares, signals = cur.rules, dict(cur.zones), dict(cur.fares), dict(cur.signals)
        if raw is None:
            if key.startswith(ZONE_PREFIX):
                zones.pop(key[len(ZONE_PREFIX):], None)
            elif key.startswith(SIGNAL_PREFIX):
                signals.pop(key[len(SIGNAL_PREFIX):], None)
            elif key.startswith(FARE_PREFIX) and len(fares) > 1:
                fares.pop(key[len(FARE_PREFIX):], None)
            else:
                log.warning("config_delete_ignored", key=key)
                return False
        else:
            try:
                doc = self.validate(key, raw)
            except ApiError as exc:
                log.warning("config_rejected", key=key, reason=exc.message, field=exc.field)
                return False
            if isinstance(doc, Rules):
                rules = doc
            elif isinstance(doc, ZoneConfig):
                zones[doc.id] = doc
            elif isinstance(doc, Signal):
                signals[doc.id] = doc
            else:
                fares[key[len(FARE_PREFIX):]] = doc
        self.current = self._snapshot(rules, zones, fares, signals, cur.version + 1)
        log.info("config_applied", key=key, version=self.current.version)
        for listener in self._listeners:
            listener(self.current)
        return True

    # NATS -----------------------------------------------------------------------------------------
    def seed_documents(self) -> dict[str, bytes]:
        """The TOML's live documents by key."""
        s = self.seed_settings
        docs = {RULES_KEY: _encoder.encode(s.rules)}
        docs.update({f"{ZONE_PREFIX}{z.id}": _encoder.encode(z) for z in s.zones})
        docs.update({f"{FARE_PREFIX}{vt}": _encoder.encode(f) for vt, f in s.fares.items()})
        return docs

    async def seed(self) -> list[str]:
        """Create every missing key from the TOML; keys that exist are left as they are."""
        assert self.kv is not None
        created = []
        for key, value in self.seed_documents().items():
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self.kv.create(key, value)
                created.append(key)
        if created:
            log.info("config_seeded", keys=len(created))
        return created

    async def put(self, key: str, doc: Rules | ZoneConfig | Fare | Signal) -> int:
        """Validate and write one document; every node (this one included) applies it from the watch."""
        assert self.kv is not None
        raw = _encoder.encode(doc)
        self.validate(key, raw)
        return await self.kv.put(key, raw)

    async def delete(self, key: str) -> None:
        """Delete a document (zones only make sense here)."""
        assert self.kv is not None
        await self.kv.delete(key)

    def _apply_entry(self, entry: Any) -> None:
        deleted = entry.operation in ("DEL", "PURGE") or entry.value is None
        self.apply(entry.key, None if deleted else entry.value)

    async def start(self, timeout_s: float = 10.0) -> None:
        """Start watching and apply the bucket's current documents before returning."""
        assert self.kv is not None
        self._watcher = await self.kv.watchall()
        async with asyncio.timeout(timeout_s):
            while (entry := await self._watcher.updates(timeout=timeout_s)) is not None:
                self._apply_entry(entry)
        self.loaded.set()

    async def run(self) -> None:
        """Apply changes until stopped."""
        if self._watcher is None:
            await self.start()
        async for entry in self._watcher:
            if entry is not None:
                self._apply_entry(entry)

    async def stop(self) -> None:
        """Stop watching."""
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
