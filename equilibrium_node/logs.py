"""Logging: one line per event, JSON when stderr is not a terminal, every line with region and node id.

Components log events, not prose: ``log.info("checkpoint_written", seq=1234, bytes=5120)``. The
formatter adds the time, level, logger, region and node id, so a line can be filtered by any of them.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

_CONTEXT: dict[str, str] = {}


class EventLogger:
    """A thin wrapper over :class:`logging.Logger` taking an event name plus keyword fields."""

    __slots__ = ("_logger",)

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def _log(self, level: int, event: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, event, extra={"eq_fields": fields}, exc_info=exc_info)

    def debug(self, event: str, **fields: Any) -> None:
        """Log at DEBUG."""
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        """Log at INFO."""
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Log at WARNING."""
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        """Log at ERROR."""
        self._log(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """Log at ERROR with the current exception's traceback."""
        self._log(logging.ERROR, event, fields, exc_info=True)


def get_logger(name: str) -> EventLogger:
    """The event logger of a component (``name`` is usually ``__name__``)."""
    return EventLogger(name)


def _iso(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as JSON with the node context."""
        doc: dict[str, Any] = {"ts": _iso(record.created), "level": record.levelname.lower(),
                               "logger": record.name, "event": record.getMessage(), **_CONTEXT}
        doc.update(getattr(record, "eq_fields", {}))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class TextFormatter(logging.Formatter):
    """Human-readable single lines for terminals."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as ``time level logger event k=v``."""
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "eq_fields", {}).items())
        line = f"{_iso(record.created)} {record.levelname:<7} {record.name.removeprefix('equilibrium_node.')}: " \
               f"{record.getMessage()}{' ' + fields if fields else ''}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str = "info", fmt: str = "auto", **context: str) -> None:
    """Configure the root logger once for the process; ``context`` (region, node) goes on every line."""
    _CONTEXT.clear()
    _CONTEXT.update({k: v for k, v in context.items() if v})
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log duplicates our own request metrics; nats-py logs reconnect noise at INFO.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("nats").setLevel(logging.WARNING)


def set_context(**context: str) -> None:
    """Add or change context fields (e.g. the node id once known)."""
    _CONTEXT.update({k: v for k, v in context.items() if v})
