"""Durations and instants as people type them: ``30d``, ``12h``, ``15m``; epoch seconds or RFC 3339.

Shared by the analytics API (``window``, ``step``, ``from``, ``to``) and the export command
(``--since``). Errors are :class:`ValueError` with a message that names the accepted forms; the
callers turn them into a 400 or a one-line command-line error.
"""

from __future__ import annotations

import datetime as dt
import math
import re

UNITS_S = {"m": 60, "h": 3600, "d": 86_400}
_DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhd])$")


def parse_duration(text: str, *, lo_s: float = 60, hi_s: float = 366 * 86_400) -> int:
    """``<n>m|h|d`` as whole seconds within [lo_s, hi_s]; ValueError otherwise."""
    match = _DURATION.fullmatch(text.strip()) if text else None
    if match is None:
        raise ValueError(f"expected a duration like 30d, 12h or 15m, got {text[:40]!r}")
    seconds = int(match.group(1)) * UNITS_S[match.group(2)]
    if not lo_s <= seconds <= hi_s:
        raise ValueError(f"must be between {format_duration(lo_s)} and {format_duration(hi_s)}, got {text}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact ``<n>d|h|m`` form (seconds when none fits)."""
    s = int(seconds)
    for unit in ("d", "h", "m"):
        if s and s % UNITS_S[unit] == 0:
            return f"{s // UNITS_S[unit]}{unit}"
    return f"{s}s"


def parse_instant(text: str) -> float:
    """Epoch seconds from a number (``1767225600``) or RFC 3339 (``2026-01-01T00:00:00Z``)."""
    raw = text.strip()
    try:
        value = float(raw)
    except ValueError:
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"expected epoch seconds or RFC 3339 (2026-01-01T00:00:00Z), got {text[:40]!r}") from None
        if parsed.tzinfo is None:
            raise ValueError(f"RFC 3339 time needs a zone (Z or +hh:mm): {text[:40]!r}") from None
        return parsed.timestamp()
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"epoch seconds must be finite and >= 0, got {text[:40]!r}")
    return value


def rfc3339_s(ts: float) -> str:
    """Epoch seconds as RFC 3339 UTC to the second (``2026-11-02T08:00:00Z``)."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


__all__ = ["UNITS_S", "format_duration", "parse_duration", "parse_instant", "rfc3339_s"]
