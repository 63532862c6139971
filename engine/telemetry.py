"""OpenTelemetry traces and logs, off unless the standard `OTEL_*` environment asks for them.

On when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its `_TRACES_`/`_LOGS_` form), `OTEL_TRACES_EXPORTER`
or `OTEL_LOGS_EXPORTER` is set and `OTEL_SDK_DISABLED` is not `true`; `start()` then sets up the
SDK (`engine.telemetry_sdk`). Off, this module imports nothing of OpenTelemetry and every hook
below is a constant-time no-op, so the call path pays nothing.

The spans of one client request:

    tools/call code                 the mcp SDK's server span (its OpenTelemetryMiddleware)
      code run                      `span(CODE_RUN)` around the run (Portal)
        upstream tools/call <srv>   `span(...)` around each upstream call (ToolCalls)
          MCP send tools/call <t>   the mcp SDK's client span; the HTTP request carries its
                                    `traceparent` (`request_hooks`), as `_meta` does

`annotate(record)` puts a request-log record's fields on the current span (server, tool,
status, duration, sizes, the person: never arguments, results or error text), and with
telemetry on the request log also goes out as OTel log records (`TelemetryLog`).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx2
    from opentelemetry.trace import Tracer

    from engine.requestlog import RequestLog, RequestRecord

CODE_RUN = "code run"
_SWITCHES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_LOGS_EXPORTER",
)
_OFF: AbstractContextManager[None] = nullcontext()
_on = False
_starts = 0
_tracer: Tracer | None = None
"""The `opentelemetry.trace.Tracer` our spans come from, while on."""


def wanted(environ: dict[str, str] | None = None) -> bool:
    """Whether the `OTEL_*` environment asks for export."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(env.get(name, "").strip() for name in _SWITCHES)


def enabled() -> bool:
    return _on


def start() -> None:
    """Set up export if the environment asks for it (once per process; counted, so nested
    gateways share it and the last `stop()` flushes)."""
    global _on, _starts, _tracer
    if not wanted():
        return
    from opentelemetry import trace

    from engine import telemetry_sdk

    telemetry_sdk.install()
    _starts += 1
    _on = True
    _tracer = trace.get_tracer("codemode")


def stop() -> None:
    """Flush what is buffered; export stops when the last `start()` is matched."""
    global _on, _starts, _tracer
    if not _on:
        return
    from engine import telemetry_sdk

    _starts -= 1
    telemetry_sdk.flush()
    if _starts == 0:
        _on, _tracer = False, None


def span(name: str) -> AbstractContextManager[Any]:
    """A child span of the current one named `name` (a no-op context when off)."""
    if _tracer is None:
        return _OFF
    return _tracer.start_as_current_span(name)


def annotate(record: RequestRecord) -> None:
    """Put `record`'s fields (never its error text) on the current span."""
    if not _on:
        return
    from opentelemetry import trace
    from opentelemetry.trace import StatusCode

    current = trace.get_current_span()
    current.set_attributes(attributes(record))
    if record.status == "error":
        current.set_status(StatusCode.ERROR)


def attributes(record: RequestRecord) -> dict[str, str | int | float]:
    """What telemetry tells of one request-log record: who, what, how long, how big."""
    out: dict[str, str | int | float] = {
        "codemode.portal": record.portal,
        "codemode.kind": record.kind,
        "codemode.status": record.status,
        "codemode.tool": record.capability,
        "codemode.duration_ms": record.duration_ms,
        "codemode.request_bytes": record.request_bytes,
        "codemode.response_bytes": record.response_bytes,
    }
    if record.server is not None:
        out["codemode.server"] = record.server
    if record.user is not None:
        out["enduser.id"] = record.user
    return out


def request_hooks() -> list[Callable[[httpx2.Request], Awaitable[None]]]:
    """httpx request hooks for an upstream's client: W3C `traceparent` from the current span."""
    return [_inject] if _on else []


async def _inject(request: httpx2.Request) -> None:
    if not _on:
        return
    from opentelemetry import propagate

    propagate.inject(request.headers)


def with_export(log: RequestLog) -> RequestLog:
    """`log`, plus OTel log records of each entry when telemetry is on."""
    if not _on:
        return log
    from engine.requestlog import FanOut
    from engine.telemetry_sdk import TelemetryLog

    return FanOut([log, TelemetryLog()])


__all__ = [
    "CODE_RUN",
    "annotate",
    "attributes",
    "enabled",
    "request_hooks",
    "span",
    "start",
    "stop",
    "wanted",
    "with_export",
]
