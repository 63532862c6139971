"""JSDoc comment text: escaping and layout."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

# One-line `/** ... */` comments are used up to this length; longer ones get a block.
ONE_LINE_MAX = 100

# Schema keywords shown as JSDoc tags, in this order.
_TAG_KEYWORDS = (
    "format",
    "default",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
)
# A default or example longer than this is left out: the schema should not be repeated in docs.
_TAG_VALUE_MAX = 120


def escape(text: str) -> str:
    """Make text safe inside a `/** */` comment: a literal `*/` would end it early."""
    return text.replace("*/", "*\\/")


def tags(schema: Mapping[str, Any]) -> list[str]:
    """`@format uri`, `@default 5000`, ... for the constraint keywords a schema carries."""
    out: list[str] = []
    for key in _TAG_KEYWORDS:
        if key not in schema:
            continue
        value = schema[key]
        text = value if key in ("format", "pattern") and isinstance(value, str) else _json(value)
        if text is not None and len(text) <= _TAG_VALUE_MAX:
            out.append(f"@{key} {escape(text)}")
    if schema.get("deprecated") is True:
        out.append("@deprecated")
    return out


def _json(value: Any) -> str | None:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return None


def comment(lines: Sequence[str], indent: str) -> list[str]:
    """Lay out comment lines (already escaped) as a JSDoc block at `indent`.

    One short line stays on one line (`/** text */`); anything else becomes a block.
    """
    body = [line.rstrip() for text in lines for line in text.splitlines() or [""]]
    while body and not body[-1]:
        body.pop()
    if not body:
        return []
    if len(body) == 1 and len(indent) + len(body[0]) + 7 <= ONE_LINE_MAX:
        return [f"{indent}/** {body[0]} */"]
    return (
        [f"{indent}/**"]
        + [f"{indent} * {line}" if line else f"{indent} *" for line in body]
        + [f"{indent} */"]
    )


def property_doc(description: str | None, schema: Mapping[str, Any]) -> list[str]:
    """Comment lines for one property: its description, then its constraint tags.

    Short tags join a one-line description (`URL to fetch. @format uri`) to keep the stub small.
    """
    parts: list[str] = []
    if description and description.strip():
        parts.append(escape(description.strip()))
    tag_list = tags(schema)
    if not tag_list:
        return parts
    if parts and "\n" not in parts[0]:
        joined = " ".join([parts[0], *tag_list])
        if len(joined) <= ONE_LINE_MAX - 10:
            return [joined]
    if not parts and len(" ".join(tag_list)) <= ONE_LINE_MAX - 10:
        return [" ".join(tag_list)]
    return parts + tag_list
