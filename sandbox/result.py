"""What one sandbox run produced."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.errors import SandboxError

LogLevel = Literal["log", "info", "warn", "error", "debug"]

HostCall = Callable[[str, Any], Awaitable[Any]]
"""The host bridge: `(name, args) -> result`. May raise `ToolError` to reject the agent's call."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    level: LogLevel
    text: str

    def to_json(self) -> dict[str, str]:
        return {"level": self.level, "text": self.text}


@dataclass(slots=True)
class RunResult:
    value: Any = None
    """The JSON-compatible value the code returned (None when it failed)."""
    logs: list[LogEntry] = field(default_factory=list)
    error: SandboxError | None = None
    calls: int = 0
    duration_ms: float = 0.0
    startup_ms: float = 0.0
    """From `run()` to the start of evaluating the agent's code (pool hit: well under 1 ms)."""

    @property
    def ok(self) -> bool:
        return self.error is None
