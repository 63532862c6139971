"""Resource limits of one sandbox run. Every limit is configurable; defaults suit agent code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    timeout_s: float = 30.0
    """Wall-clock budget for the whole run, tool calls included."""
    cpu_s: float = 10.0
    """Budget of time spent executing JavaScript (not waiting for tools)."""
    memory_bytes: int = 64 * 1024 * 1024
    """QuickJS heap limit: how far the linear memory may grow past the empty runtime."""
    store_memory_bytes: int = 256 * 1024 * 1024
    """Cap on the wasm linear memory of one instance: a second wall behind the heap limit."""
    max_calls: int = 1000
    """Tool calls allowed in one run."""
    max_concurrent_calls: int = 16
    """Tool calls running at the same time on the host."""
    max_code_bytes: int = 256 * 1024
    max_args_bytes: int = 1024 * 1024
    """Size of one call's arguments, as JSON."""
    max_result_bytes: int = 4 * 1024 * 1024
    """Size of the run's returned value, as JSON."""
    max_log_bytes: int = 64 * 1024
    """Total size of captured console output; later lines are dropped with a notice."""
