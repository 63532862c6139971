"""Turn what the guest or wasmtime reported into a `SandboxError` the agent can act on."""

from __future__ import annotations

import re
from typing import Any

from sandbox.errors import ErrorKind, SandboxError
from sandbox.limits import Limits
from sandbox.shape import AGENT_FILE, Prepared

_POSITION = re.compile(re.escape(AGENT_FILE) + r":(\d+):(\d+)")
_STACK_OVERFLOW = "maximum call stack size exceeded"


def _position(stack: str, code: Prepared) -> tuple[int | None, int | None]:
    for match in _POSITION.finditer(stack):
        line = code.agent_line(int(match.group(1)))
        if line is not None:
            return line, int(match.group(2))
    return None, None


def _agent_frames(stack: str, code: Prepared) -> list[str]:
    """Stack lines that point into the agent's code, in the agent's line numbers."""
    frames = []
    for raw in stack.splitlines():
        match = _POSITION.search(raw)
        line = code.agent_line(int(match.group(1))) if match else None
        if match is None or line is None:
            continue
        frame = raw.strip().replace("<eval>", "<code>").replace("<anonymous>", "<code>")
        frames.append(frame.replace(match.group(0), f"{AGENT_FILE}:{line}:{match.group(2)}"))
    return frames


def syntax_error(info: dict[str, Any], code: Prepared) -> SandboxError:
    stack = str(info.get("stack", ""))
    line, column = _position(stack, code)
    message = str(info.get("message", "syntax error"))
    where = f" at line {line}, column {column}" if line is not None else ""
    return SandboxError(
        ErrorKind.SYNTAX, f"{message}{where}", name="SyntaxError", line=line, column=column
    )


def thrown_error(info: dict[str, Any], code: Prepared, limits: Limits) -> SandboxError:
    """An exception that escaped the agent's code (or a rejected top-level promise)."""
    name = str(info.get("name", "Error"))
    message = str(info.get("message", ""))
    stack = str(info.get("stack", ""))
    line, column = _position(stack, code)
    frames = _agent_frames(stack, code)
    if info.get("limit"):
        return SandboxError(ErrorKind.LIMIT, message, name=name, line=line, column=column)
    if info.get("unserializable"):
        return SandboxError(ErrorKind.UNSERIALIZABLE, message, name=name, line=line, column=column)
    if name == "InternalError" and "out of memory" in message:
        return memory_error(limits)
    if name == "InternalError" and "stack overflow" in message:
        return stack_overflow()
    return SandboxError(
        ErrorKind.RUNTIME, message, name=name, line=line, column=column, stack=frames
    )


def memory_error(limits: Limits) -> SandboxError:
    mb = limits.memory_bytes // (1024 * 1024)
    return SandboxError(
        ErrorKind.MEMORY,
        f"out of memory: the code used more than the {mb} MB heap limit. "
        "Process data in smaller pieces or return less.",
    )


def stack_overflow() -> SandboxError:
    return SandboxError(
        ErrorKind.STACK_OVERFLOW,
        f"{_STACK_OVERFLOW}: the code recursed too deeply. Use a loop or reduce recursion depth.",
        name="RangeError",
    )


def trap_error(message: str, limits: Limits) -> SandboxError:
    """wasm trapped: QuickJS does not catch deep recursion here, the wasm stack hits memory."""
    lowered = message.lower()
    if "out of memory" in lowered:
        return memory_error(limits)
    if "out of bounds" in lowered or "call stack exhausted" in lowered or "stack" in lowered:
        return stack_overflow()
    return SandboxError(ErrorKind.INTERNAL, "the sandbox stopped unexpectedly (wasm trap)")


def interrupted(reason: str, limits: Limits) -> SandboxError:
    if reason == "cpu":
        return SandboxError(
            ErrorKind.CPU,
            f"CPU budget exceeded: the code computed for more than {limits.cpu_s:g} s. "
            "Look for an endless loop, or do less work per run.",
        )
    return SandboxError(
        ErrorKind.TIMEOUT,
        f"timeout: the run took longer than {limits.timeout_s:g} s (tool calls included). "
        "Make fewer or faster calls, or split the work across runs.",
    )


def deadlock() -> SandboxError:
    return SandboxError(
        ErrorKind.DEADLOCK,
        "deadlock: the code is awaiting a promise that can never settle (no tool call is "
        "running and nothing else is pending). There are no timers in this sandbox; "
        "await codemode.* calls or values directly.",
    )


def limit(message: str) -> SandboxError:
    return SandboxError(ErrorKind.LIMIT, message)


def internal(message: str) -> SandboxError:
    return SandboxError(ErrorKind.INTERNAL, message)
