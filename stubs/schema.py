"""JSON Schema to TypeScript type expressions.

`SchemaConverter.convert` never raises on odd input: anything it does not understand (an
unknown keyword or type, an external `$ref`, nesting past `MAX_DEPTH`) becomes `unknown`.
Local `$ref`s (`#/$defs/X`, `#/definitions/X`, any JSON pointer, `#` itself) become named
types registered once in a `TypeRegistry`, so recursive schemas terminate and shared
definitions are written once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from stubs import jsdoc
from stubs.registry import TypeRegistry, type_identifier
from stubs.tstype import (
    INDENT,
    NEVER,
    NULL,
    PRIMARY,
    UNKNOWN,
    TsType,
    after_colon,
    inline_binding,
    intersection,
    literal,
    one_per_line,
    property_key,
    union,
    wrap,
)

# Nesting deeper than this renders as `unknown`: a real tool's schema is far shallower, and a
# pathological one must not produce megabytes of declarations.
MAX_DEPTH = 12
# Objects whose one-line form is longer than this are written one member per line.
INLINE_MAX = 80
# An index signature must admit every declared property's type; a union longer than this is
# replaced by `unknown` to stay readable.
INDEX_UNION_MAX = 60


def singular(word: str) -> str:
    """`entities` → `entity`, `relations` → `relation`: names for the items of an array."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word + "Item" if word else "Item"


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
        return one_per_line(result, indent)

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
        return TsType(f"{wrap(element, PRIMARY)}[]")

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
            texts.append(f"{wrap(t, PRIMARY)}?" if i >= required else wrap(t, inline_binding(t)))
        if rest is True or isinstance(rest, Mapping):
            texts.append(f"...{wrap(self.convert(rest, depth + 1, indent), PRIMARY)}[]")
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
            members.append((doc, f"{property_key(str(key))}{mark}:{after_colon(t)}"))
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
        return ([] if self.brief else notes), wrap(value, inline_binding(value))

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
            return type_identifier(ref.rsplit("/", 1)[-1] or "Type")
        shared = self.registry.shared(target) if isinstance(target, Mapping) else None
        if shared is not None and shared[1]:
            self.refs[ref] = shared[1]
            return shared[1]
        name = self.registry.allocate(ref.rsplit("/", 1)[-1], self.owner)
        self.refs[ref] = name  # before converting: a recursive ref now resolves to the name
        if shared is not None:
            self.registry.remember(shared[0], name)
        self.define(name, target, self._property_doc(target, describe_props=True))
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
