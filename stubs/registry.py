"""The named types of one declaration file: unique names, shared schemas, cycle breaking."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stubs import jsdoc
from stubs.tstype import TsType, after_colon

# Object schemas nested deeper than this are not looked at for sharing.
SCAN_DEPTH = 12

# Global type names of TypeScript's default libs that a `$defs` name could shadow.
_GLOBAL_TYPE_NAMES_TEXT = """
    Array ArrayBuffer Awaited Blob Boolean Capitalize Comment ConstructorParameters DataView
    Date Document Element Error Event EvalError Exclude Extract File FormData Function Headers
    History Image InstanceType Iterable Iterator JSON Location Lowercase Map Math Node
    NonNullable Notification Number Object Omit Option Parameters Partial Pick Position
    Promise PromiseLike Proxy Range RangeError Readonly ReadonlyArray Record ReferenceError
    Reflect RegExp Request Required Response ReturnType Selection Set Storage String Symbol
    SyntaxError Text TypeError URIError URL Uint8Array Uncapitalize Uppercase WeakMap WeakSet
    Window Worker
    """
GLOBAL_TYPE_NAMES = frozenset(_GLOBAL_TYPE_NAMES_TEXT.split())


@dataclass
class TypeRegistry:
    """The named types of one declaration file, in the order they were defined."""

    declarations: dict[str, str] = field(default_factory=dict)
    _taken: set[str] = field(default_factory=set)
    _by_schema: dict[str, str] = field(default_factory=dict)
    _repeated: set[str] = field(default_factory=set)
    _direct: dict[str, set[str]] = field(default_factory=dict)  # alias -> names it is made of

    def count_objects(self, schemas: Sequence[Any]) -> None:
        """Note the object schemas that occur more than once, to write each once by name."""
        seen: set[str] = set()
        stack: list[tuple[Any, int]] = [(s, 0) for s in schemas]
        while stack:
            node, depth = stack.pop()
            if depth > SCAN_DEPTH:
                continue
            if isinstance(node, list):
                stack.extend((item, depth + 1) for item in node)
            elif isinstance(node, Mapping):
                key = _object_key(node) if depth > 0 else None
                if key is not None:
                    if key in seen:
                        self._repeated.add(key)
                    seen.add(key)
                stack.extend((v, depth + 1) for v in node.values())

    def repeated(self, schema: Mapping[str, Any]) -> str | None:
        """The key of a repeated object schema, or None if it occurs once."""
        key = _object_key(schema)
        return key if key in self._repeated else None

    def allocate(self, preferred: str, owner: str = "") -> str:
        """Reserve a unique type name, preferring `preferred`, then `owner + preferred`."""
        base = type_identifier(preferred)
        candidates = [base, owner + base] if owner else [base]
        for candidate in candidates:
            if candidate not in self._taken and candidate not in GLOBAL_TYPE_NAMES:
                self._taken.add(candidate)
                return candidate
        stem = candidates[-1]
        for suffix in range(2, 10_000):
            candidate = f"{stem}{suffix}"
            if candidate not in self._taken:
                self._taken.add(candidate)
                return candidate
        raise RuntimeError("type name space exhausted")  # pragma: no cover - 10k clashes

    def shared(self, schema: Mapping[str, Any]) -> tuple[str, str] | None:
        """Key and existing name of an identical, self-contained schema defined before."""
        try:
            key = json.dumps(_normalized(schema), sort_keys=True)
        except (TypeError, ValueError):
            return None
        if "$ref" in key:  # its refs point into its own root: not comparable across roots
            return None
        return key, self._by_schema.get(key, "")

    def name_of(self, key: str) -> str | None:
        return self._by_schema.get(key)

    def remember(self, key: str, name: str) -> None:
        self._by_schema[key] = name

    def direct_edge(self, source: str, target: str) -> None:
        self._direct.setdefault(source, set()).add(target)

    def define(self, name: str, body: TsType, doc: Sequence[str] = ()) -> None:
        head = jsdoc.comment(doc, "")
        if body.is_object_literal:
            self._direct.pop(name, None)  # an interface may refer to itself freely
            text = f"interface {name} {body.text}"
        else:
            text = f"type {name} ={after_colon(body)};"
        self.declarations[name] = "\n".join([*head, text])

    def text(self) -> str:
        """All declarations; a type alias that is its own member (`A = A | B`) becomes unknown."""
        for name in self._cyclic():
            doc = self.declarations[name].rpartition("\ntype ")[0]
            self.declarations[name] = "\n".join(p for p in (doc, f"type {name} = unknown;") if p)
        return "\n".join(self.declarations.values())

    def _cyclic(self) -> list[str]:
        """Type aliases that reach themselves through direct references only."""
        cyclic = []
        for start in self._direct:
            seen: set[str] = set()
            stack = list(self._direct[start])
            while stack:
                node = stack.pop()
                if node == start:
                    cyclic.append(start)
                    break
                if node not in seen:
                    seen.add(node)
                    stack.extend(self._direct.get(node, ()))
        return cyclic


def _object_key(schema: Mapping[str, Any]) -> str | None:
    """Canonical text of a self-contained object schema with properties, else None."""
    if not isinstance(schema.get("properties"), Mapping) or not schema["properties"]:
        return None
    try:
        key = json.dumps(_normalized(schema), sort_keys=True)
    except (TypeError, ValueError):
        return None
    return None if "$ref" in key else key


# Keywords that do not change the TypeScript written for an object that has properties.
_NO_TYPE_EFFECT = frozenset({"$schema", "$id", "title", "examples", "$comment"})


def _normalized(node: Any) -> Any:
    if isinstance(node, list):
        return [_normalized(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    out = {k: _normalized(v) for k, v in node.items() if k not in _NO_TYPE_EFFECT}
    if out.get("additionalProperties") is False and out.get("properties"):
        del out["additionalProperties"]
    return out


def type_identifier(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_$]", "", re.sub(r"[-. ]+(.)", lambda m: m[1].upper(), text))
    if not cleaned:
        return "Type"
    cleaned = cleaned[0].upper() + cleaned[1:]
    return "_" + cleaned if cleaned[0].isdigit() else cleaned
