"""Tool names to JavaScript identifiers on `codemode`, and back.

Rules (docs/design.md, "Names"): `-`, `.` and space become `_`; any other character outside
`[A-Za-z0-9_$]` is dropped; a leading digit gets a `_` prefix; a reserved word gets a `_`
suffix. Tools that end up with the same identifier get `_2`, `_3`, ... in a deterministic order
that does not depend on the order the tools were listed in, so a reconnect never reshuffles
which tool a name calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# ECMAScript reserved words (all modes), literals, and globals that must not be shadowed.
_JS_RESERVED_WORDS_TEXT = """
    await break case catch class const continue debugger default delete do else enum export
    extends false finally for function if import in instanceof new null return super switch
    this throw true try typeof var void while with yield let static implements interface
    package private protected public arguments eval undefined NaN Infinity
    """
JS_RESERVED_WORDS = frozenset(_JS_RESERVED_WORDS_TEXT.split())

# Names the engine itself defines on `codemode`.
HELPER_NAMES = frozenset({"search", "describe"})
# Namespaces the engine defines on `codemode` (`codemode.resources.read`, `stubs.resources`;
# `codemode.portal.enable`, `stubs.portal`).
NAMESPACE_NAMES = frozenset({"resources", "portal"})

# Object.prototype members, and `then` (which would make `codemode` a thenable under `await`):
# a tool under one of these names would break the object that carries the tools.
_OBJECT_MEMBER_NAMES_TEXT = """
    constructor hasOwnProperty isPrototypeOf propertyIsEnumerable toLocaleString toString
    valueOf __proto__ __defineGetter__ __defineSetter__ __lookupGetter__ __lookupSetter__ then
    """
OBJECT_MEMBER_NAMES = frozenset(_OBJECT_MEMBER_NAMES_TEXT.split())

RESERVED_NAMES = JS_RESERVED_WORDS | HELPER_NAMES | NAMESPACE_NAMES | OBJECT_MEMBER_NAMES

_SEPARATORS = re.compile(r"[-. ]")
_NOT_IDENTIFIER_CHAR = re.compile(r"[^A-Za-z0-9_$]")
IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def sanitize_name(name: str) -> str:
    """The identifier one tool name becomes, before collisions are resolved."""
    out = _NOT_IDENTIFIER_CHAR.sub("", _SEPARATORS.sub("_", name))
    if not out:
        out = "_"
    if out[0].isdigit():
        out = "_" + out
    if out in RESERVED_NAMES:
        out += "_"
    return out


def sanitize_names(names: Iterable[str]) -> dict[str, str]:
    """Map each tool name to a distinct JavaScript identifier: `{original: js_name}`.

    Within a group of names that sanitise alike, a name that is already its own identifier
    keeps it; the others follow in sorted order with suffixes `_2`, `_3`, ... A suffixed name
    never takes an identifier that another tool sanitises to.
    """
    groups: dict[str, list[str]] = {}
    for original in sorted(set(names)):
        groups.setdefault(sanitize_name(original), []).append(original)
    claimed = set(groups)
    result: dict[str, str] = {}
    for base in sorted(groups):
        members = sorted(groups[base], key=lambda original: (original != base, original))
        result[members[0]] = base
        suffix = 2
        for original in members[1:]:
            while f"{base}_{suffix}" in claimed:
                suffix += 1
            candidate = f"{base}_{suffix}"
            claimed.add(candidate)
            result[original] = candidate
    return result


def reverse_names(mapping: Mapping[str, str]) -> dict[str, str]:
    """Invert a `sanitize_names` result: `{js_name: original}`, to route calls back."""
    reverse: dict[str, str] = {}
    for original, js_name in mapping.items():
        if js_name in reverse:
            raise ValueError(
                f"names {reverse[js_name]!r} and {original!r} both map to {js_name!r}: "
                "pass a mapping made by sanitize_names"
            )
        reverse[js_name] = original
    return reverse


def type_name(js_name: str) -> str:
    """PascalCase form of an identifier, for the tool's named types (`git_status` → `GitStatus`)."""
    parts = [p for p in re.split(r"[_$]+", js_name) if p]
    joined = "".join(p[0].upper() + p[1:] for p in parts) or "Tool"
    return "_" + joined if joined[0].isdigit() else joined
