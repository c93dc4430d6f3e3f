"""The OpenAPI 3.1 document, generated from the declared endpoints and their msgspec types.

Schemas come from ``msgspec.json.schema_components``, so the document and the decoders cannot
disagree. Errors every endpoint of a kind can produce (400 for input, 401/403 for admin, 413 for
bodies, 500) are added here once instead of in each declaration.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec
from aiohttp import web

from .. import __version__
from .endpoint import ApiPart, Endpoint
from .errors import ErrorBody

_PATH_PARAM = re.compile(r"\{([^}:]+)(:[^}]*)?\}")


def openapi_path(path: str) -> str:
    """aiohttp path template to OpenAPI (``{id:[0-9]+}`` becomes ``{id}``)."""
    return _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def build_document(endpoints: Sequence[Endpoint], *, title: str, description: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints``."""
    types: list[Any] = [ErrorBody]
    for ep in endpoints:
        if ep.request is not None:
            types.append(ep.request)
        types.extend(t for t, _ in ep.responses.values() if t is not None and not isinstance(t, dict))
    schemas_list, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    schema_of = dict(zip(map(id, types), schemas_list, strict=True))

    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        op: dict[str, Any] = {"summary": ep.summary, "operationId": _operation_id(ep), "tags": list(ep.tags)}
        params = [{"name": p.name, "in": p.where, "required": p.required or p.where == "path",
                   "schema": p.schema, **({"description": p.description} if p.description else {})}
                  for p in ep.params]
        if params:
            op["parameters"] = params
        if ep.request is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": schema_of[id(ep.request)]}}}
        responses: dict[str, Any] = {}
        for status, (type_, text) in sorted(ep.responses.items()):
            entry: dict[str, Any] = {"description": text}
            if isinstance(type_, dict):
                entry["content"] = {ep.content_type: {"schema": type_}}
            elif type_ is not None:
                entry["content"] = {ep.content_type if status < 400 else "application/json":
                                    {"schema": schema_of[id(type_)]}}
            if status in ep.links:
                entry["links"] = ep.links[status]
            responses[str(status)] = entry
        if ep.params or ep.request is not None:
            responses.setdefault("400", _error("Invalid input; `error.field` names it."))
        if ep.request is not None:
            responses.setdefault("413", _error("Body larger than 64 KiB."))
        if ep.auth == "admin":
            responses.setdefault("401", _error("Missing bearer token."))
            responses.setdefault("403", _error("Wrong bearer token."))
            op["security"] = [{"adminBearer": []}]
        elif ep.auth == "app":
            responses.setdefault("401", _error("Missing or unknown app token."))
            op["security"] = [{"appToken": []}, {}]
        if any(p.where == "path" for p in ep.params):
            responses.setdefault("404", _error("Not found."))
        responses.setdefault("500", _error("Internal error."))
        op["responses"] = responses
        paths.setdefault(openapi_path(ep.path), {})[ep.method.lower()] = op

    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__, "description": description},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "adminBearer": {"type": "http", "scheme": "bearer", "description": "The region's admin token."},
                "appToken": {"type": "apiKey", "in": "query", "name": "token",
                             "description": "Per-app stream token (when the node is configured with app tokens)."},
            },
        },
    }


def _operation_id(ep: Endpoint) -> str:
    words = re.sub(r"[{}]|:[^}]*", "", ep.path).strip("/").replace("api/v1/", "").replace("/", "_")
    return f"{ep.method.lower()}_{words or 'root'}".replace("-", "_")


class OpenApiPart(ApiPart):
    """Serves ``/api/v1/openapi.json`` for the endpoints of the whole app."""

    def __init__(self, title: str, description: str) -> None:
        self.title = title
        self.description = description
        self._body: bytes | None = None
        self._all: list[Endpoint] = []

    def bind(self, endpoints: Sequence[Endpoint]) -> None:
        """Called by the app with every endpoint once routes are known."""
        self._all = list(endpoints)
        self._body = None

    def document(self) -> dict[str, Any]:
        """The document (rebuilt lazily after :meth:`bind`)."""
        return build_document(self._all, title=self.title, description=self.description)

    async def _serve(self, _request: web.Request) -> web.Response:
        if self._body is None:
            self._body = msgspec.json.encode(self.document())
        return web.Response(body=self._body, content_type="application/json")

    def endpoints(self) -> list[Endpoint]:
        """``GET /api/v1/openapi.json``."""
        return [Endpoint("GET", "/api/v1/openapi.json", self._serve, "This OpenAPI document.", tags=("meta",),
                         responses={200: ({"type": "object"}, "OpenAPI 3.1 document.")})]


__all__ = ["OpenApiPart", "build_document", "openapi_path"]
