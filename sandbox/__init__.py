"""Run agent JavaScript in a fresh QuickJS-in-wasmtime instance, with a host bridge and limits.

Knows nothing of MCP: the host passes a callable `(name, args) -> awaitable result` and the set
of names the agent may call as `codemode.<name>(args)`.
"""

from sandbox.errors import ErrorKind, SandboxError, ToolError
from sandbox.limits import Limits
from sandbox.result import HostCall, LogEntry, RunResult
from sandbox.runner import Sandbox

__all__ = [
    "ErrorKind",
    "HostCall",
    "Limits",
    "LogEntry",
    "RunResult",
    "Sandbox",
    "SandboxError",
    "ToolError",
]
