"""JSON Schema to TypeScript type expressions.

`SchemaConverter.convert` never raises on odd input: anything it does not understand (an
unknown keyword or type, an external `$ref`, nesting past `MAX_DEPTH`) becomes `unknown`.
Local `$ref`s (`#/$defs/X`, `#/definitions/X`, any JSON pointer, `#` itself) become named
types registered once in a `TypeRegistry`, so recursive schemas terminate and shared
definitions are written once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stubs import jsdoc
from stubs.names import IDENTIFIER

# Nesting deeper than this renders as `unknown`: a real tool's schema is far shallower, and a
# pathological one must not produce megabytes of declarations.
MAX_DEPTH = 12
# Objects whose one-line form is longer than this are written one member per line.
INLINE_MAX = 80
# An index signature must admit every declared property's type; a union longer than this is
# replaced by `unknown` to stay readable.
INDEX_UNION_MAX = 60
INDENT = "  "

UNION, INTERSECTION, PRIMARY = 0, 1, 2

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


def _one_per_line(t: TsType, indent: str) -> TsType:
    """Lay out a union whose members span lines the way prettier does: `| A` on each line."""
    if t.precedence != UNION or "\n" not in t.text or t.block_indent is not None:
        return t
    shift = INDENT + "  "
    lines = [f"{indent}{INDENT}| {part.replace(chr(10), chr(10) + shift)}" for part in t.parts]
    return TsType("\n" + "\n".join(lines), UNION, parts=t.parts, block_indent=indent)


def intersection(members: Sequence[TsType]) -> TsType:
    parts = [m for m in members if m.text != "unknown"]
    unique: list[TsType] = []
    for part in parts:
        if part.text not in (u.text for u in unique):
            unique.append(part)
    if not unique:
        return UNKNOWN
    if len(unique) == 1:
        return unique[0]
    return TsType(" & ".join(_wrap(m, INTERSECTION) for m in unique), INTERSECTION)


def _wrap(t: TsType, context: int) -> str:
    if t.precedence >= context:
        return t.text
    if t.block_indent is not None:
        return f"({t.text}\n{t.block_indent})"
    return f"({t.text})"


def _inline(t: TsType) -> int:
    """The binding to ask `_wrap` for so that `t` can sit inside one line of other text."""
    return INTERSECTION if t.block_indent is not None else UNION


def _after_colon(t: TsType) -> str:
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
    return name if IDENTIFIER.match(name) else json.dumps(name, ensure_ascii=False)


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
            if depth > MAX_DEPTH:
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
        base = _type_identifier(preferred)
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
            key = json.dumps(schema, sort_keys=True)
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
        if body.is_object_literal:
            text = f"interface {name} {body.text}"
        else:
            text = f"type {name} ={_after_colon(body)};"
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


def singular(word: str) -> str:
    """`entities` → `entity`, `relations` → `relation`: names for the items of an array."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word + "Item" if word else "Item"


def _type_identifier(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_$]", "", re.sub(r"[-. ]+(.)", lambda m: m[1].upper(), text))
    if not cleaned:
        return "Type"
    cleaned = cleaned[0].upper() + cleaned[1:]
    return "_" + cleaned if cleaned[0].isdigit() else cleaned


RefNamer = Callable[[str], TsType]


class SchemaConverter:
    """Converts the schemas under one root (a tool's inputSchema or outputSchema).

    `brief=True` renders for one-line search results: no comments, one line, and objects
    below the top level shown as `object`.
    """

    def __init__(
        self,
        registry: TypeRegistry,
        root: Any,
        *,
        owner: str,
        root_name: str | None = None,
        brief: bool = False,
    ) -> None:
        self.registry = registry
        self.root = root
        self.owner = owner
        self.brief = brief
        self.refs: dict[str, str] = {"#": root_name} if root_name else {}
        self._defining: list[str] = []  # named types whose bodies are being converted

    def convert(
        self,
        schema: Any,
        depth: int = 0,
        indent: str = "",
        *,
        describe_props: bool = True,
        hint: str = "",
        direct: bool = False,
    ) -> TsType:
        """The TypeScript type of `schema`; nested lines are indented relative to `indent`.

        `direct` says the type being written is the body of a named type itself (or a member
        of a union or intersection there), where TypeScript cannot defer a reference to that
        name: such references are recorded so that cycles can be broken.
        """
        if schema is True:
            return UNKNOWN
        if schema is False:
            return NEVER
        if not isinstance(schema, Mapping) or depth > MAX_DEPTH:
            return UNKNOWN
        parts: list[TsType] = []
        ref = schema.get("$ref")
        if isinstance(ref, str):
            parts.append(self._ref(ref, direct))
        base = self._value_type(schema, depth, indent, describe_props, hint)
        if base is not None:
            parts.append(base)
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                members = [
                    self.convert(s, depth + 1, indent, hint=hint, direct=direct) for s in options
                ]
                parts.append(union(members))
        all_of = schema.get("allOf")
        if isinstance(all_of, list):
            parts.extend(
                self.convert(s, depth + 1, indent, hint=hint, direct=direct) for s in all_of
            )
        result = intersection(parts)
        if schema.get("nullable") is True and result.text not in ("unknown", "never"):
            result = union([result, NULL])
        return _one_per_line(result, indent)

    def _value_type(
        self, schema: Mapping[str, Any], depth: int, indent: str, describe_props: bool, hint: str
    ) -> TsType | None:
        if "const" in schema:
            return literal(schema["const"]) or UNKNOWN
        enum = schema.get("enum")
        if isinstance(enum, list):
            literals = [literal(v) for v in enum]
            return union([t if t is not None else UNKNOWN for t in literals])
        types = schema.get("type")
        if isinstance(types, str):
            names = [types]
        elif isinstance(types, list):
            names = [t for t in types if isinstance(t, str)]
        elif any(k in schema for k in ("properties", "additionalProperties", "patternProperties")):
            names = ["object"]
        elif any(k in schema for k in ("items", "prefixItems")):
            names = ["array"]
        else:
            return None
        return union(
            [self._named_type(n, schema, depth, indent, describe_props, hint) for n in names]
        )

    def _named_type(
        self,
        name: str,
        schema: Mapping[str, Any],
        depth: int,
        indent: str,
        describe_props: bool,
        hint: str,
    ) -> TsType:
        if name == "string":
            return TsType("string")
        if name in ("number", "integer"):
            return TsType("number")
        if name == "boolean":
            return TsType("boolean")
        if name == "null":
            return NULL
        if name == "array":
            return self._array(schema, depth, indent, singular(hint))
        if name == "object":
            return self._object(schema, depth, indent, describe_props, hint)
        return UNKNOWN

    def _array(self, schema: Mapping[str, Any], depth: int, indent: str, hint: str) -> TsType:
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(prefix, list):
            return self._tuple(schema, prefix, items, depth, indent)
        if isinstance(items, list):
            return self._tuple(schema, items, schema.get("additionalItems"), depth, indent)
        element = UNKNOWN if items is None else self.convert(items, depth + 1, indent, hint=hint)
        return TsType(f"{_wrap(element, PRIMARY)}[]")

    def _tuple(
        self, schema: Mapping[str, Any], elements: list[Any], rest: Any, depth: int, indent: str
    ) -> TsType:
        # A tuple schema usually means a fixed-length array even without minItems; when
        # minItems is given, positions past it are optional.
        min_items = schema.get("minItems")
        required = min_items if isinstance(min_items, int) else len(elements)
        texts = []
        for i, element in enumerate(elements):
            t = self.convert(element, depth + 1, indent)
            texts.append(f"{_wrap(t, PRIMARY)}?" if i >= required else _wrap(t, _inline(t)))
        if rest is True or isinstance(rest, Mapping):
            texts.append(f"...{_wrap(self.convert(rest, depth + 1, indent), PRIMARY)}[]")
        return TsType(f"[{', '.join(texts)}]")

    def _object(
        self, schema: Mapping[str, Any], depth: int, indent: str, describe_props: bool, hint: str
    ) -> TsType:
        if self.brief and depth >= 2:
            return TsType("object")
        repeated = self.registry.repeated(schema) if depth > 0 and not self.brief else None
        if repeated is not None:
            return self._shared_object(schema, repeated, hint)
        inner = indent + INDENT
        members: list[tuple[list[str], str]] = []  # (comment lines, "key?: type")
        declared: list[TsType] = []
        properties = schema.get("properties")
        props: Mapping[str, Any] = properties if isinstance(properties, Mapping) else {}
        required_list = schema.get("required")
        required = (
            {r for r in required_list if isinstance(r, str)}
            if isinstance(required_list, list)
            else set()
        )
        for key, sub in props.items():
            t = self.convert(sub, depth + 1, inner, hint=str(key))
            optional = key not in required
            declared.append(union([t, TsType("undefined")]) if optional else t)
            doc = self._property_doc(sub, describe_props)
            mark = "?" if optional else ""
            members.append((doc, f"{property_key(str(key))}{mark}:{_after_colon(t)}"))
        for key in sorted(required - set(props)):
            members.append(([], f"{property_key(key)}: unknown"))
            declared.append(UNKNOWN)
        index = self._index_signature(schema, depth, inner, declared)
        if index is not None and not members and not index[0] and _no_named_types(index[1]):
            # `Record<..>` is not a deferred position: a type that refers back to its own
            # alias must keep the `{ [key: string]: ... }` form.
            return TsType(f"Record<string, {index[1]}>")
        if index is not None:
            members.append((index[0], f"[key: string]: {index[1]}"))
        elif not members:
            closed = schema.get("additionalProperties") is False or isinstance(properties, Mapping)
            return TsType("Record<string, never>" if closed else "Record<string, unknown>")
        return self._layout(members, indent)

    def _shared_object(self, schema: Mapping[str, Any], key: str, hint: str) -> TsType:
        """A named type for an object schema that occurs more than once in the file."""
        name = self.registry.name_of(key)
        if name is None:
            name = self.registry.allocate(hint or "Item", self.owner)
            self.registry.remember(key, name)
            body = self._object(schema, 0, "", True, hint)  # an interface: no direct refs
            description = schema.get("description")
            doc = [jsdoc.escape(description)] if isinstance(description, str) else []
            self.registry.define(name, body, doc)
        return TsType(name)

    def _property_doc(self, sub: Any, describe_props: bool) -> list[str]:
        if self.brief or not isinstance(sub, Mapping):
            return []
        description = sub.get("description") if describe_props else None
        return jsdoc.property_doc(description if isinstance(description, str) else None, sub)

    def _index_signature(
        self, schema: Mapping[str, Any], depth: int, indent: str, declared: list[TsType]
    ) -> tuple[list[str], str] | None:
        """(comment lines, value type) of the index signature, or None if there is none."""
        values: list[TsType] = []
        notes: list[str] = []
        additional = schema.get("additionalProperties")
        if additional is True or isinstance(additional, Mapping):
            values.append(self.convert(additional, depth + 1, indent))
        patterns = schema.get("patternProperties")
        if isinstance(patterns, Mapping):
            for pattern, sub in patterns.items():
                values.append(self.convert(sub, depth + 1, indent))
                notes.append(f"Keys matching `{jsdoc.escape(str(pattern))}`.")
        if not values:
            return None
        value = union(values)
        if declared and value.text != "unknown":
            # TypeScript requires every declared property to fit the index signature.
            value = union([value, *declared])
            if len(value.text) > INDEX_UNION_MAX or "\n" in value.text:
                value = UNKNOWN
        return ([] if self.brief else notes), _wrap(value, _inline(value))

    def _layout(self, members: list[tuple[list[str], str]], indent: str) -> TsType:
        # Tag-only comments may stay on one line: `{ /** @format email */ email: string }`.
        inline = [f"/** {doc[0]} */ {m}" if doc and not self.brief else m for doc, m in members]
        one_line = "{ " + "; ".join(inline) + " }"
        if self.brief or (
            all(not doc or _inline_tags(doc) for doc, _ in members)
            and "\n" not in one_line
            and len(indent) + len(one_line) <= INLINE_MAX
        ):
            return TsType(one_line, is_object_literal=True)
        inner = indent + INDENT
        lines = ["{"]
        for doc, member in members:
            if _inline_tags(doc) and len(inner) + len(doc[0]) + len(member) + 8 <= INLINE_MAX:
                lines.append(f"{inner}/** {doc[0]} */ {member};")  # `/** @default 3 */ n?: ...`
                continue
            lines.extend(jsdoc.comment(doc, inner))
            lines.append(f"{inner}{member};")
        lines.append(indent + "}")
        return TsType("\n".join(lines), is_object_literal=True)

    def define(self, name: str, schema: Any, doc: Sequence[str] = (), **options: Any) -> None:
        """Convert `schema` as the body of the named type `name` and register it."""
        self._defining.append(name)
        try:
            body = self.convert(schema, 0, "", direct=True, **options)
        finally:
            self._defining.pop()
        self.registry.define(name, body, doc)

    def _ref(self, ref: str, direct: bool) -> TsType:
        name = self._ref_name(ref)
        if name is not None and direct and self._defining:
            self.registry.direct_edge(self._defining[-1], name)
        return UNKNOWN if name is None else TsType(name)

    def _ref_name(self, ref: str) -> str | None:
        name = self.refs.get(ref)
        if name is not None:
            return name
        target = resolve_pointer(self.root, ref)
        if target is None:
            return None
        if self.brief:
            return _type_identifier(ref.rsplit("/", 1)[-1] or "Type")
        shared = self.registry.shared(target) if isinstance(target, Mapping) else None
        if shared is not None and shared[1]:
            self.refs[ref] = shared[1]
            return shared[1]
        name = self.registry.allocate(ref.rsplit("/", 1)[-1], self.owner)
        self.refs[ref] = name  # before converting: a recursive ref now resolves to the name
        if shared is not None:
            self.registry.remember(shared[0], name)
        description = target.get("description") if isinstance(target, Mapping) else None
        self.define(
            name, target, [jsdoc.escape(description)] if isinstance(description, str) else []
        )
        return name


_NAMED_TYPE = re.compile(r"(?<![\w$\"])(?!Record\b)[A-Z_$][\w$]*")


def _no_named_types(text: str) -> bool:
    return _NAMED_TYPE.search(re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)) is None


def _inline_tags(doc: list[str]) -> bool:
    return len(doc) == 1 and doc[0].startswith("@") and "\n" not in doc[0]


def resolve_pointer(root: Any, ref: str) -> Any | None:
    """Resolve a local JSON pointer `$ref` (`#`, `#/$defs/X`, ...) in `root`; None otherwise."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node = root
    for raw in ref[2:].split("/"):
        segment = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return None
    return node if isinstance(node, Mapping | bool) else None
