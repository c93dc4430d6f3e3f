"""HTTP error bodies, and how every failure becomes one (:func:`render_error`, used by the app middleware).

Every 4xx/5xx answer is ``{"error": {"code", "message", "field"}}``: raised :class:`ApiError`,
aiohttp's own HTTP exceptions (404, 405, 413) and unexpected exceptions (500, logged with the
traceback, never shown to the client) alike.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from ..errors import Code, EquilibriumError
from ..logs import get_logger

log = get_logger(__name__)


class ErrorDetail(msgspec.Struct, frozen=True):
    """What went wrong: a stable code, a message for humans, the offending field if any."""

    code: str
    message: str
    field: str | None = None


class ErrorBody(msgspec.Struct, frozen=True):
    """The body of every error response."""

    error: ErrorDetail


_encoder = msgspec.json.Encoder()

_STATUS_CODES = {
    400: Code.VALIDATION, 401: Code.UNAUTHORIZED, 403: Code.FORBIDDEN, 404: Code.NOT_FOUND,
    405: Code.METHOD_NOT_ALLOWED, 409: Code.CONFLICT, 410: Code.QUOTE_EXPIRED, 413: Code.BODY_TOO_LARGE,
    429: Code.RATE_LIMITED, 503: Code.UNAVAILABLE,
}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    """A JSON error response."""
    body = _encoder.encode(ErrorBody(ErrorDetail(code=code, message=message, field=field)))
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def render_error(request: web.Request, exc: Exception) -> web.Response:
    """The contract's error response for an exception raised while handling ``request``.

    aiohttp's non-error HTTP exceptions (redirects, status < 400) are re-raised for aiohttp to send.
    """
    if isinstance(exc, EquilibriumError):
        status = exc.status if 400 <= exc.status < 600 else 500
        if status >= 500:
            log.error("request_failed", route=request.path, code=exc.code, error=exc.message)
        return error_response(status, exc.code, exc.message, exc.field)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        if exc.status == 413:
            return error_response(413, Code.BODY_TOO_LARGE, "request body is too large", None)
        code = _STATUS_CODES.get(exc.status, Code.INTERNAL if exc.status >= 500 else Code.VALIDATION)
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "www-authenticate")}
        return error_response(exc.status, code, exc.reason or "error", None, headers=headers)
    log.exception("request_crashed", route=request.path, method=request.method)  # called in the except block
    return error_response(500, Code.INTERNAL, "internal error", None)

