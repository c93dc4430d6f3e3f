"""The configuration reference (a Markdown table) generated from the settings Structs.

The README embeds this table between markers; a unit test fails when the two drift apart, so the
documentation cannot fall behind the code. ``equilibrium-node config --reference`` prints it.
"""

from __future__ import annotations

import typing

import msgspec

from .load import iter_leaves
from .model import Settings

BEGIN = "<!-- config-reference:begin -->"
END = "<!-- config-reference:end -->"


def _type_name(annotation: typing.Any) -> str:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(repr(a).replace("'", '"') for a in typing.get_args(annotation))
    if origin in (list, dict):
        return f"{origin.__name__} (JSON)"
    return getattr(annotation, "__name__", str(annotation))


def _description(annotation: typing.Any) -> str:
    for meta in typing.get_args(annotation)[1:] if typing.get_origin(annotation) is typing.Annotated else ():
        if isinstance(meta, msgspec.Meta) and meta.description:
            return meta.description
    return ""


def _default(owner: type, name: str) -> str:
    value = getattr(owner(), name, None) if name in _defaults_of(owner) else None
    if value is None:
        return "(required)"
    if isinstance(value, str):
        return f'`"{value}"`' if value else '`""`'
    return f"`{msgspec.json.encode(value).decode()}`"


def _defaults_of(owner: type) -> set[str]:
    info = msgspec.inspect.type_info(owner)
    return {f.name for f in info.fields if not f.required}  # type: ignore[attr-defined]


def reference_markdown() -> str:
    """Render the table: field, environment variable, type, default, meaning."""
    rows = ["| field | environment | type | default | meaning |", "|---|---|---|---|---|"]
    for leaf in iter_leaves(Settings):
        default = "see `config/sf.toml`" if leaf.path in ("zones", "fares") else _default(leaf.owner, leaf.name)
        if len(default) > 60:
            default = default[:57] + "...`"
        rows.append(f"| `{leaf.path}` | `{leaf.env}` | {_type_name(leaf.annotation)} | {default} | "
                    f"{_description(leaf.annotation)} |")
    return "\n".join(rows)
