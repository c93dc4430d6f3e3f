"""Bearer-token checks: the admin API (401 without a token, 403 with a wrong one).

Tokens are compared in constant time. A node with no admin token configured refuses every admin
call with 401 ``admin_disabled`` rather than accepting an empty or default token.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from ..errors import ApiError, Code


def bearer(request: web.Request) -> str | None:
    """The bearer token of a request, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class AdminAuth:
    """Checks the region's admin token."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    @property
    def enabled(self) -> bool:
        """False when no token is configured (admin API closed)."""
        return bool(self._token)

    def check(self, request: web.Request) -> None:
        """Raise 401/403 unless the request carries the admin token."""
        if not self._token:
            raise ApiError("the admin API is disabled: no admin token is configured (EQ_ADMIN_TOKEN)",
                           code=Code.ADMIN_DISABLED, status=401)
        token = bearer(request)
        if token is None:
            raise ApiError("missing bearer token", code=Code.UNAUTHORIZED, status=401)
        if not hmac.compare_digest(token.encode(), self._token):
            raise ApiError("wrong admin token", code=Code.FORBIDDEN, status=403)
