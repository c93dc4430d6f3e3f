"""The one error root of the node and every error code it emits, as named constants.

HTTP errors carry ``{"error": {"code", "message", "field"}}``; rejected NATS input carries a reject
reason in the ``Eq-Reject-Reason`` header of its DLQ copy. Both vocabularies live here so that the
OpenAPI document, the metrics labels and the tests all name the same strings.
"""

from __future__ import annotations


class Code:
    """HTTP error codes (the ``error.code`` field of an error body)."""

    BAD_JSON = "bad_json"
    VALIDATION = "validation_error"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_VEHICLE_TYPE = "unknown_vehicle_type"
    UNKNOWN_ZONE = "unknown_zone"
    BODY_TOO_LARGE = "body_too_large"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    ADMIN_DISABLED = "admin_disabled"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    QUOTE_USED = "quote_used"
    QUOTE_EXPIRED = "quote_expired"
    QUOTE_TAMPERED = "quote_tampered"
    QUOTE_UNKNOWN = "quote_unknown"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    TOO_MANY_CELLS = "too_many_cells"
    UNKNOWN_MESSAGE_TYPE = "unknown_message_type"
    RATE_LIMITED = "rate_limited"
    NOT_READY = "not_ready"
    UNAVAILABLE = "unavailable"
    CONFLICT = "conflict"
    INTERNAL = "internal_error"


class Reject:
    """Reasons an input message is rejected to the DLQ (``Eq-Reject-Reason``, metric label ``reason``)."""

    NOT_JSON = "not_json"
    MISSING_FIELD = "missing_field"
    BAD_TYPE = "bad_type"
    OUT_OF_RANGE = "out_of_range"
    NOT_FINITE = "not_finite"
    UNKNOWN_STATUS = "unknown_status"
    UNKNOWN_KIND = "unknown_kind"
    UNKNOWN_VEHICLE_TYPE = "unknown_vehicle_type"
    STRING_TOO_LONG = "string_too_long"
    UNKNOWN_SUBJECT = "unknown_subject"
    # valid events the state does not apply: counted in eq_events_dropped_total{reason}, not sent to the DLQ
    TOO_OLD = "too_old"
    OUT_OF_ORDER = "out_of_order"


class CloseCode:
    """WebSocket close codes of the heatmap stream (RFC 6455 ranges: 1xxx protocol, 4xxx application).

    SSE has no close codes: the same reasons end the response (401 / 503 before it starts).
    """

    NORMAL = 1000
    GOING_AWAY = 1001  # the node is shutting down: reconnect (with backoff) to any node of the region
    MESSAGE_TOO_BIG = 1009  # a client message over the size limit (sent by aiohttp itself)
    INTERNAL = 1011
    TRY_AGAIN_LATER = 1013  # the node has not loaded the served prices yet
    UNAUTHORIZED = 4001  # missing or unknown app token
    SLOW_CLIENT = 4008  # could not take data for push.stall_timeout_s
    TOO_MANY_CONNECTIONS = 4029  # the node holds push.max_connections streams
    FLOODING = 4030  # kept sending messages far above the rate limit


class ExitCode:
    """Process exit codes of the command line."""

    OK = 0
    FAILURE = 1
    CONFIG = 2  # bad configuration, a port in use, a server that would not start


class EquilibriumError(Exception):
    """Root of every error the node raises on purpose.

    ``code`` is one of :class:`Code` (or a component's own constant), ``field`` names the offending
    input field when there is one, ``status`` is the HTTP status an API handler should answer with.
    """

    status: int = 500
    code: str = Code.INTERNAL

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.field = field


class ConfigError(EquilibriumError):
    """A configuration value is missing or invalid; ``source`` says where it came from."""

    code = Code.VALIDATION

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None) -> None:
        super().__init__(message, field=field)
        self.source = source

    def __str__(self) -> str:
        where = f" ({self.source})" if self.source else ""
        name = f"{self.field}: " if self.field else ""
        return f"config error{where}: {name}{self.message}"


class StartupError(EquilibriumError):
    """The node cannot start (embedded server failed, port in use, NATS unreachable, no secret)."""


class ProvisioningError(EquilibriumError):
    """A stream or bucket could not be created or is in a state the node cannot use."""


class ApiError(EquilibriumError):
    """An HTTP request cannot be served as asked; rendered as the JSON error body."""

    status = 400
    code = Code.VALIDATION


class NotLeaderError(EquilibriumError):
    """A write was attempted by a node that no longer holds the region's leader lease."""

    code = "not_leader"


class WriteConflictError(NotLeaderError):
    """A compare-and-set write found another revision than this node last saw: someone else wrote the key.

    Leader-only keys are written by compare-and-set, so a deposed leader's late write fails here on the
    server instead of overwriting what the new leader wrote.
    """

    code = "write_conflict"
