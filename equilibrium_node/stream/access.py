"""Who may open a stream: optional per-app tokens (``push.app_tokens``), checked once at connect.

Browsers cannot set headers on ``WebSocket`` or ``EventSource``, so the token may come as the query
parameter ``token``; native apps may send ``Authorization: Bearer <token>`` instead. Tokens are compared
in constant time. With no tokens configured the streams are open (the heatmap is public data).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from aiohttp import web

from ..api.auth import bearer


class AppTokens:
    """The accepted app tokens of a node."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self._tokens = tuple(t.encode() for t in tokens if t)

    def allows(self, request: web.Request) -> bool:
        """True when no token is required, or the request carries a known one."""
        if not self._tokens:
            return True
        given = request.query.get("token") or bearer(request)
        if not given:
            return False
        raw = given.encode()
        # compare with every token (no early exit) so timing says nothing about which one matched
        matches = [hmac.compare_digest(raw, token) for token in self._tokens]
        return any(matches)


__all__ = ["AppTokens"]
