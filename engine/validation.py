"""Tool arguments are checked against the tool's `inputSchema` before they leave the host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator

_MAX_PROBLEMS = 5


class ArgumentError(ValueError):
    """Arguments that do not match the tool's input schema; the message names each field."""


class ArgumentValidator:
    """Validators compiled once per schema (keyed by identity of the curated schema dict)."""

    def __init__(self) -> None:
        self._validators: dict[int, tuple[Mapping[str, Any], Validator | None]] = {}

    def check(self, tool_name: str, schema: Mapping[str, Any] | None, arguments: Any) -> None:
        if not isinstance(arguments, dict):
            kind = "an array" if isinstance(arguments, list) else type(arguments).__name__
            raise ArgumentError(
                f"{tool_name}: input must be an object of named arguments, not {kind}"
            )
        validator = self._validator(schema)
        if validator is None:
            return
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if errors:
            raise ArgumentError(_describe(tool_name, errors))

    def _validator(self, schema: Mapping[str, Any] | None) -> Validator | None:
        if not schema:
            return None
        cached = self._validators.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        validator: Validator | None
        try:
            cls = jsonschema.validators.validator_for(
                schema, default=jsonschema.Draft202012Validator
            )
            cls.check_schema(dict(schema))
            validator = cls(schema)
        except SchemaError:
            validator = None  # an upstream's broken schema must not block its tool: let it judge
        self._validators[id(schema)] = (schema, validator)
        return validator


def _describe(tool_name: str, errors: list[ValidationError]) -> str:
    lines = [f"{_field(e)}: {e.message}" for e in errors[:_MAX_PROBLEMS]]
    more = len(errors) - _MAX_PROBLEMS
    if more > 0:
        lines.append(f"... and {more} more")
    return f"invalid arguments for {tool_name}: " + "; ".join(lines)


def _field(error: ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return "input" + path
