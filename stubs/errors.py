"""Typed errors of the stubs package."""

from __future__ import annotations


class StubsError(Exception):
    """Base class of every error `stubs` raises on purpose."""


class ToolSpecError(StubsError, TypeError):
    """A tool definition handed to `declare` has no usable name or is not a tool at all."""


class StripError(StubsError):
    """Agent code is not valid TypeScript (nor JavaScript), so its types cannot be stripped.

    `line` and `column` are 1-based and point into the agent's own text: the engine reports
    this as a `syntax` error at that position.
    """

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} (line {line}, column {column})")
        self.message = message
        self.line = line
        self.column = column
