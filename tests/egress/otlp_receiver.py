"""A real OTLP/HTTP receiver on 127.0.0.1 for tests: it keeps every body it is sent and
decodes them with the `opentelemetry-proto` messages."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span


@dataclass
class Received:
    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def raw(self) -> bytes:
        with self.lock:
            return b"".join(body for _, body in self.bodies)

    def spans(self) -> list[Span]:
        out: list[Span] = []
        for path, body in self._of("/v1/traces"):
            del path
            request = ExportTraceServiceRequest.FromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    out.extend(scope.spans)
        return out

    def logs(self) -> list[LogRecord]:
        out: list[LogRecord] = []
        for _, body in self._of("/v1/logs"):
            request = ExportLogsServiceRequest.FromString(body)
            for resource in request.resource_logs:
                for scope in resource.scope_logs:
                    out.extend(scope.log_records)
        return out

    def service_names(self) -> set[str]:
        names: set[str] = set()
        for _, body in self._of("/v1/traces"):
            for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
                names.update(
                    a.value.string_value
                    for a in resource.resource.attributes
                    if a.key == "service.name"
                )
        return names

    def _of(self, path: str) -> list[tuple[str, bytes]]:
        with self.lock:
            return [(p, b) for p, b in self.bodies if p == path]


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def attrs(item: Span | LogRecord) -> dict[str, Any]:
    return {a.key: value_of(a.value) for a in item.attributes}


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, Received]]:
    """`(endpoint, received)`: set OTEL_EXPORTER_OTLP_ENDPOINT to the endpoint."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            with received.lock:
                received.bodies.append((self.path, body))
            reply = (
                ExportLogsServiceResponse()
                if self.path == "/v1/logs"
                else ExportTraceServiceResponse()
            ).SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
