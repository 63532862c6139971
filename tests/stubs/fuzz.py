"""Random (seeded, so reproducible) tool schemas, for checking that any output compiles."""

from __future__ import annotations

import random
from typing import Any

_KEYWORDS = (
    "type", "properties", "required", "items", "prefixItems", "enum", "const", "anyOf", "oneOf",
    "allOf", "$ref", "additionalProperties", "patternProperties", "nullable", "format",
    "default", "description", "minimum", "pattern", "minItems",
)  # fmt: skip
_TYPES = ("string", "number", "integer", "boolean", "null", "array", "object", "decimal")
_KEYS = ("a", "b-c", "class", "2x", "with space", 'q"uote', "*/", "ünï", "$d", "")
_LITERALS: tuple[Any, ...] = (
    None, True, 0, -1, 1.5, 1e300, "s", "it's", "*/", "", [1, "x"], {"k": None}, {"a b": 1},
)  # fmt: skip


def schema(rng: random.Random, depth: int = 0) -> Any:
    if depth > 5 or rng.random() < 0.15:
        return rng.choice([True, False, {}, {"type": rng.choice(_TYPES)}, 7, "x", None])
    out: dict[str, Any] = {}
    for key in rng.sample(_KEYWORDS, rng.randint(1, 4)):
        out[key] = _value(rng, key, depth + 1)
    if rng.random() < 0.3:
        out["$defs"] = {
            name: schema(rng, depth + 1) for name in rng.sample(["Node", "Date", "x-y"], 2)
        }
    return out


def _value(rng: random.Random, key: str, depth: int) -> Any:
    if key == "type":
        return rng.choice(_TYPES) if rng.random() < 0.7 else rng.sample(_TYPES, 2)
    if key == "properties" or key == "patternProperties":
        return {k: schema(rng, depth) for k in rng.sample(_KEYS, rng.randint(0, 3))}
    if key == "required":
        return rng.sample(_KEYS, rng.randint(0, 3))
    if key in ("items", "additionalProperties"):
        return schema(rng, depth)
    if key in ("prefixItems", "anyOf", "oneOf", "allOf"):
        return [schema(rng, depth) for _ in range(rng.randint(0, 3))]
    if key == "enum":
        return rng.sample(_LITERALS, rng.randint(0, 4))
    if key in ("const", "default"):
        return rng.choice(_LITERALS)
    if key == "$ref":
        return rng.choice(
            ["#", "#/$defs/Node", "#/$defs/Date", "#/$defs/x-y", "#/nope", "http://x"]
        )
    if key == "nullable":
        return rng.random() < 0.5
    if key == "minItems":
        return rng.randint(0, 2)
    return rng.choice(["uri", "*/ text", "^[a-z]*/$", 3])


def tools(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "name": f"fuzz-{i}",
            "description": rng.choice(["", "Does */ things.", "Line one.\nLine two."]),
            "inputSchema": schema(rng),
            **({"outputSchema": schema(rng)} if rng.random() < 0.5 else {}),
        }
        for i in range(count)
    ]
