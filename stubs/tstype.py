"""Rendered TypeScript types: text plus how tightly it binds, and the combinators over them."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stubs.names import IDENTIFIER

INDENT = "  "
# Binding strength, loosest first: a looser type is parenthesised inside a tighter context.
UNION, INTERSECTION, PRIMARY = 0, 1, 2


@dataclass(frozen=True, slots=True)
class TsType:
    """A rendered type: its text (may span lines) and how tightly it binds."""

    text: str
    precedence: int = PRIMARY
    is_object_literal: bool = False
    # A union keeps its members, to lay them out one per line when one spans lines.
    parts: tuple[str, ...] = ()
    # Set for such a one-per-line union: the indent its closing parenthesis goes at.
    block_indent: str | None = None


UNKNOWN = TsType("unknown")
NEVER = TsType("never")
NULL = TsType("null")


def union(members: Sequence[TsType]) -> TsType:
    """`A | B`, flattened and deduplicated; `unknown` absorbs it, `never` members drop out."""
    texts: list[str] = []
    for member in members:
        if member.text == "unknown":
            return UNKNOWN
        for text in member.parts if member.precedence == UNION else (member.text,):
            if text != "never" and text not in texts:
                texts.append(text)
    if not texts:
        return NEVER
    if len(texts) == 1:
        return next((m for m in members if m.text == texts[0]), TsType(texts[0]))
    return TsType(" | ".join(texts), UNION, parts=tuple(texts))


def one_per_line(t: TsType, indent: str) -> TsType:
    """Lay out a union whose members span lines the way prettier does: `| A` on each line."""
    if t.precedence != UNION or "\n" not in t.text or t.block_indent is not None:
        return t
    shift = INDENT + "  "
    lines = [f"{indent}{INDENT}| {part.replace(chr(10), chr(10) + shift)}" for part in t.parts]
    return TsType("\n" + "\n".join(lines), UNION, parts=t.parts, block_indent=indent)


def intersection(members: Sequence[TsType]) -> TsType:
    """`A & B`, deduplicated; `unknown` members drop out (they add no constraint)."""
    parts = [m for m in members if m.text != "unknown"]
    unique: list[TsType] = []
    for part in parts:
        if part.text not in (u.text for u in unique):
            unique.append(part)
    if not unique:
        return UNKNOWN
    if len(unique) == 1:
        return unique[0]
    return TsType(" & ".join(wrap(m, INTERSECTION) for m in unique), INTERSECTION)


def wrap(t: TsType, context: int) -> str:
    """The text of `t`, parenthesised if it binds more loosely than `context` needs."""
    if t.precedence >= context:
        return t.text
    if t.block_indent is not None:
        return f"({t.text}\n{t.block_indent})"
    return f"({t.text})"


def inline_binding(t: TsType) -> int:
    """The binding to ask `_wrap` for so that `t` can sit inside one line of other text."""
    return INTERSECTION if t.block_indent is not None else UNION


def after_colon(t: TsType) -> str:
    """`key: type`, or `key:` then the lines of a one-per-line union."""
    return t.text if t.block_indent is not None else " " + t.text


def literal(value: Any) -> TsType | None:
    """A JSON value as a TypeScript literal type, or None if it has none."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        return TsType(json.dumps(value, ensure_ascii=False))
    except (TypeError, ValueError):
        return None


def property_key(name: str) -> str:
    """A property or method name as written in a type: quoted unless it is an identifier."""
    return name if IDENTIFIER.match(name) else json.dumps(name, ensure_ascii=False)
