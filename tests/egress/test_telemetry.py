"""OpenTelemetry export against a real OTLP/HTTP receiver: the span tree of one `code` run with
two upstream calls, made by a real MCP client over HTTP; the `traceparent` the streamable-HTTP
upstream received; request-log entries as log records in the same trace; no argument value in
anything exported. And off by default: nothing of the SDK is imported."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from opentelemetry import trace
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from engine import Config, telemetry
from engine.credentials import hash_api_key
from tests.egress.otlp_receiver import Received, attrs, otlp_receiver
from tests.server.conftest import ServedPortal
from tests.upstreams.harness import REPO, RunningServer, running

API_KEY = "otel-key-" + uuid.uuid4().hex
FIRST = "first-argument-" + uuid.uuid4().hex
SECOND = "second-argument-" + uuid.uuid4().hex
CODE = (
    f'const a = await codemode.traced_echo({{value: "{FIRST}"}});\n'
    f'const b = await codemode.traced_echo({{value: "{SECOND}"}});\n'
    'return "two calls made";'
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def traceparents(tmp_path: Path) -> Path:
    return tmp_path / "traceparents.txt"


@pytest.fixture
def traced(traceparents: Path) -> Iterator[RunningServer]:
    argv = [sys.executable, "-m", "tests.egress.traced_upstream", "--port", "{port}"]
    with running(argv, env={"TRACEPARENT_FILE": str(traceparents)}) as server:
        yield server


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Received]:
    with otlp_receiver() as (endpoint, received):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "codemode-test")
        yield received
    # The process's provider outlives the test: stop it exporting to a receiver now gone.
    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if shutdown is not None:
        shutdown()
    # Later tests' SDK spans are then dropped, each with an INFO line: keep those out of logs.
    logging.getLogger("opentelemetry.sdk._shared_internal").setLevel(logging.WARNING)


def _config(upstream: RunningServer) -> Config:
    return Config.from_dict(
        {
            "servers": [{"id": "traced", "url": upstream.url}],
            "portals": [
                {
                    "id": "main",
                    "api_keys": [{"name": "ci-agent", "sha256": hash_api_key(API_KEY)}],
                    "servers": [{"server_id": "traced"}],
                }
            ],
            "settings": {"request_log_path": ":memory:"},
        }
    )


async def _run_code(url: str) -> str:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {API_KEY}"})
    async with Client(streamable_http_client(url, http_client=http)) as client:
        result = await client.call_tool("code", {"code": CODE})
    assert not result.is_error, result
    return "".join(getattr(c, "text", "") for c in result.content)


def _traceparents(path: Path) -> list[list[str]]:
    return [line.split("-") for line in path.read_text().split()]


def _one(spans: list[Span], name: str) -> Span:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


@pytest.mark.anyio
async def test_span_tree_of_a_code_run_with_two_upstream_calls(
    traced: RunningServer, traceparents: Path, receiver: Received
) -> None:
    portal = ServedPortal(_config(traced))
    portal.start()
    try:
        assert "two calls made" in await _run_code(portal.url + "?codemode=search_and_execute")
    finally:
        portal.stop()  # the gateway's exit flushes what is buffered

    spans = receiver.spans()
    request = _one(spans, "tools/call code")
    assert request.kind == Span.SPAN_KIND_SERVER  # the mcp SDK's span: not doubled by ours
    run = _one(spans, "code run")
    assert run.parent_span_id == request.span_id and run.trace_id == request.trace_id
    assert attrs(run)["codemode.status"] == "ok"
    assert attrs(run)["enduser.id"] == "ci-agent"
    calls = [s for s in spans if s.name == "upstream tools/call traced/echo"]
    assert len(calls) == 2
    for call in calls:
        assert call.parent_span_id == run.span_id
        got = attrs(call)
        assert got["codemode.server"] == "traced" and got["codemode.tool"] == "traced_echo"
        assert got["codemode.status"] == "ok" and got["enduser.id"] == "ci-agent"
        assert got["codemode.request_bytes"] > 0 and got["codemode.response_bytes"] > 0
        assert got["codemode.duration_ms"] > 0

    # Each upstream call's HTTP request carried the traceparent of the SDK's client span
    # inside it (the span that also names the call in `_meta`).
    sent = [s for s in spans if s.name == "MCP send tools/call echo"]
    assert sorted(s.parent_span_id for s in sent) == sorted(c.span_id for c in calls)
    # (Syncs send their own, each the root of a trace of its own.)
    headers = _traceparents(traceparents)
    assert all(version == "00" for version, *_ in headers)
    in_run = {span for _, trace_id, span, _ in headers if trace_id == request.trace_id.hex()}
    assert in_run == {s.span_id.hex() for s in sent}

    # The request log's three entries, as log records in the spans they tell of.
    logs = {(attrs(r)["codemode.kind"], r.span_id) for r in receiver.logs()}
    assert logs == {("code_run", run.span_id)} | {("tool_call", c.span_id) for c in calls}
    assert receiver.service_names() == {"codemode-test"}

    exported = receiver.raw()
    for secret in (FIRST, SECOND, CODE.encode()[:40].decode()):
        assert secret.encode() not in exported


def test_off_by_default_imports_nothing_of_the_sdk() -> None:
    probe = (
        "import sys, anyio\n"
        "from engine import Config, Gateway, telemetry\n"
        "async def main():\n"
        "    config = Config.from_dict({'settings': {'request_log_path': ':memory:'}})\n"
        "    async with Gateway(config):\n"
        "        assert not telemetry.enabled()\n"
        "        assert telemetry.request_hooks() == []\n"
        "anyio.run(main)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk',"
        " 'opentelemetry.exporter', 'google.protobuf')))\n"
        "print(loaded)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_turned_on_only_by_the_standard_variables() -> None:
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert not telemetry.wanted({})
    assert not telemetry.wanted({"OTEL_SERVICE_NAME": "codemode"})
    assert telemetry.wanted(endpoint)
    assert telemetry.wanted({"OTEL_TRACES_EXPORTER": "console"})
    assert not telemetry.wanted({**endpoint, "OTEL_SDK_DISABLED": "true"})
