"""Typed outcomes of a sandbox run.

Every failure the agent can cause or meet is one of `ErrorKind`; the host never lets a Python
traceback reach the agent. `ToolError` is the one exception a host bridge callable raises on
purpose: its message becomes the rejection of the agent's `codemode.*` promise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    SYNTAX = "syntax"
    RUNTIME = "runtime"
    TIMEOUT = "timeout"
    CPU = "cpu"
    MEMORY = "memory"
    STACK_OVERFLOW = "stack_overflow"
    LIMIT = "limit"
    UNSERIALIZABLE = "unserializable"
    DEADLOCK = "deadlock"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class SandboxError:
    """What went wrong in a run, in terms the agent (and a person) can act on."""

    kind: ErrorKind
    message: str
    name: str | None = None
    line: int | None = None
    column: int | None = None
    stack: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "message": self.message}
        if self.name:
            out["name"] = self.name
        if self.line is not None:
            out["line"] = self.line
            out["column"] = self.column
        if self.stack:
            out["stack"] = self.stack
        return out

    def __str__(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line is not None else ""
        return f"{self.kind.value}: {self.message}{where}"


class ToolError(Exception):
    """Raised by a host bridge callable: the agent's promise rejects with this message.

    The rejection is an Error of class `name` (`Error`, `TypeError` or `RangeError`) whose
    `retryable` and, when given, `code` properties ride along for the agent to act on.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        code: str | None = None,
        name: str = "Error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.name = name
