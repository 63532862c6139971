"""The OpenTelemetry SDK set up from the standard `OTEL_*` environment, and the request-log sink
that exports entries as OTel log records. Imported only when telemetry is on (`engine.telemetry`):
the SDK, its OTLP/HTTP exporters and protobuf cost start-up time nobody else should pay.

The exporters read their own variables (`OTEL_EXPORTER_OTLP_[TRACES_|LOGS_]ENDPOINT`, `_HEADERS`,
`_TIMEOUT`, `_COMPRESSION`), the tracer provider `OTEL_TRACES_SAMPLER`, the batch processors
`OTEL_BSP_*`/`OTEL_BLRP_*`, the resource `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.
Here: `OTEL_TRACES_EXPORTER` / `OTEL_LOGS_EXPORTER` (`otlp`, the default, `console` or `none`),
and the service name `codemode` when none is given. An application that installed its own
tracer provider keeps it: our spans go there.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from datetime import datetime

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from engine.requestlog import RequestLog, RequestRecord
from engine.telemetry import attributes

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_tracers: TracerProvider | None = None
_logs: LoggerProvider | None = None


def install() -> None:
    """Set up the providers once per process (later calls keep the first ones)."""
    global _tracers, _logs
    with _lock:
        if _logs is not None:
            return
        resource = _resource()
        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            _tracers = TracerProvider(resource=resource)
            for span_exporter in _span_exporters():
                _tracers.add_span_processor(BatchSpanProcessor(span_exporter))
            trace.set_tracer_provider(_tracers)
        _logs = LoggerProvider(resource=resource)
        for log_exporter in _log_exporters():
            _logs.add_log_record_processor(BatchLogRecordProcessor(log_exporter))


def flush() -> None:
    """Export what is buffered now (bounded by the exporters' own timeouts)."""
    if _tracers is not None:
        _tracers.force_flush()
    if _logs is not None:
        _logs.force_flush()


def _resource() -> Resource:
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    return Resource.create({} if named else {"service.name": "codemode"})


def _names(variable: str) -> list[str]:
    raw = os.environ.get(variable, "otlp")
    return [name.strip().lower() for name in raw.split(",") if name.strip()]


def _span_exporters() -> list[SpanExporter]:
    out: list[SpanExporter] = []
    for name in _names("OTEL_TRACES_EXPORTER"):
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            out.append(OTLPSpanExporter())
        elif name == "console":
            out.append(ConsoleSpanExporter())
        elif name != "none":
            logger.warning("OTEL_TRACES_EXPORTER=%s: not one of otlp, console, none", name)
    return out


def _log_exporters() -> list[LogRecordExporter]:
    out: list[LogRecordExporter] = []
    for name in _names("OTEL_LOGS_EXPORTER"):
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

            out.append(OTLPLogExporter())
        elif name == "console":
            out.append(ConsoleLogRecordExporter())
        elif name != "none":
            logger.warning("OTEL_LOGS_EXPORTER=%s: not one of otlp, console, none", name)
    return out


class TelemetryLog(RequestLog):
    """Each request-log entry as an OTel log record, in the trace of the request it tells of
    (recorded while that request's span is current). Write-only: queries answer nothing."""

    def __init__(self) -> None:
        assert _logs is not None, "install() first"
        self._logger = _logs.get_logger("codemode.requestlog")

    def record(self, entry: RequestRecord) -> None:
        failed = entry.status == "error"
        self._logger.emit(
            timestamp=_nanos(entry.time),
            severity_number=SeverityNumber.WARN if failed else SeverityNumber.INFO,
            severity_text="WARN" if failed else "INFO",
            body=f"{entry.kind} {entry.status}: {entry.capability}",
            attributes=attributes(entry),
            event_name=f"codemode.{entry.kind}",
        )

    def query(
        self,
        *,
        portal: str | None = None,
        server: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[RequestRecord]:
        return []

    def flush(self) -> None:
        if _logs is not None:
            _logs.force_flush()

    def close(self) -> None:
        self.flush()  # the provider is the process's: it shuts down at exit


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


__all__: Sequence[str] = ["TelemetryLog", "flush", "install"]
