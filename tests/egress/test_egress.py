"""`secure_web_gateway`: a routed server's traffic goes through a real forward proxy (proxy.py,
recording what it forwards), an unrouted server's does not; with the proxy down, the routed
server is in Error naming the proxy and the others carry on."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from engine.catalog import Catalog
from engine.config import Config
from engine.egress import egress_routes, routed_server_ids
from engine.status import ServerState
from tests.egress.tls import Pki, make_pki
from tests.upstreams.harness import RunningServer, demo_argv, free_port, running

PROXY_ARGV = [
    sys.executable,
    "-m",
    "proxy",
    "--hostname",
    "127.0.0.1",
    "--port",
    "{port}",
    "--num-acceptors",
    "1",
    "--num-workers",
    "1",
    "--plugins",
    "tests.egress.recorder.RecordRequests",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def record_file(tmp_path: Path) -> Path:
    return tmp_path / "proxied.jsonl"


@pytest.fixture
def proxy(record_file: Path) -> Iterator[RunningServer]:
    with running(PROXY_ARGV, env={"EGRESS_RECORD_FILE": str(record_file)}) as server:
        yield server


@pytest.fixture
def inspected() -> Iterator[RunningServer]:
    with running(demo_argv(), env={"DEMO_TOKEN": ""}) as server:
        yield server


@pytest.fixture
def direct() -> Iterator[RunningServer]:
    with running(demo_argv(), env={"DEMO_TOKEN": ""}) as server:
        yield server


def two_servers(
    a: RunningServer, b: RunningServer, proxy_url: str, connect_timeout_s: float = 30
) -> Config:
    """`inspected` is routed by a portal's flag only; `direct` by nothing."""
    timeout = {"connect_timeout_s": connect_timeout_s}
    return Config.model_validate(
        {
            "servers": [
                {"id": "inspected", "url": a.url, **timeout},
                {"id": "direct", "url": b.url, **timeout},
            ],
            "portals": [
                {"id": "gw", "secure_web_gateway": True, "servers": [{"server_id": "inspected"}]},
                {"id": "all", "servers": [{"server_id": "inspected"}, {"server_id": "direct"}]},
            ],
            "settings": {"egress_proxy": proxy_url, "request_log_path": ":memory:"},
        }
    )


def proxied(record_file: Path) -> list[dict[str, Any]]:
    if not record_file.exists():
        return []
    return [json.loads(line) for line in record_file.read_text().splitlines()]


@pytest.mark.anyio
async def test_routed_server_goes_through_the_proxy_and_the_other_does_not(
    proxy: RunningServer, inspected: RunningServer, direct: RunningServer, record_file: Path
) -> None:
    config = two_servers(inspected, direct, proxy.base)
    async with Catalog(config.servers, egress_routes(config)) as catalog:
        status = catalog.status()
        assert status["inspected"].state is ServerState.READY, status["inspected"]
        assert status["direct"].state is ServerState.READY, status["direct"]
        for server_id in ("inspected", "direct"):
            result = await catalog.call_tool(server_id, "echo", {"value": server_id})
            assert not result.is_error
        assert catalog.routed("inspected") and not catalog.routed("direct")
    seen = proxied(record_file)
    ports = {line["port"] for line in seen}
    assert ports == {inspected.port}, seen
    # The proxy saw the MCP traffic itself: POSTs to the server's endpoint.
    assert any(line["method"] == "POST" and line["path"].endswith("/mcp") for line in seen)


@pytest.mark.anyio
async def test_proxy_down_puts_only_the_routed_server_in_error_naming_the_proxy(
    inspected: RunningServer, direct: RunningServer
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = two_servers(inspected, direct, dead, connect_timeout_s=5)
    async with Catalog(config.servers, egress_routes(config)) as catalog:
        status = catalog.status()
        assert status["inspected"].state is ServerState.ERROR
        details = status["inspected"].error_details
        assert details is not None
        assert f"cannot reach the egress proxy {dead} (secure_web_gateway)" in details.cause
        assert details.retryable and not details.is_upstream
        assert status["direct"].state is ServerState.READY
        result = await catalog.call_tool("direct", "echo", {"value": 1})
        assert not result.is_error


def test_a_server_shared_by_portals_is_routed_when_any_of_them_asks() -> None:
    config = Config.model_validate(
        {
            "servers": [
                {"id": "own", "url": "http://127.0.0.1:1/mcp", "secure_web_gateway": True},
                {"id": "shared", "url": "http://127.0.0.1:2/mcp"},
                {"id": "plain", "url": "http://127.0.0.1:3/mcp"},
                {"id": "local", "command": "true"},
            ],
            "portals": [
                {"id": "a", "servers": [{"server_id": "shared"}, {"server_id": "plain"}]},
                {
                    "id": "b",
                    "secure_web_gateway": True,
                    "servers": [{"server_id": "shared"}, {"server_id": "local"}],
                },
            ],
            "settings": {"egress_proxy": "http://127.0.0.1:9"},
        }
    )
    assert routed_server_ids(config) == {"own", "shared"}  # a stdio server has no HTTP
    assert set(egress_routes(config)) == {"own", "shared"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"servers": [{"id": "s", "url": "http://h/mcp", "secure_web_gateway": True}]}, "needs"),
        ({"portals": [{"id": "p", "secure_web_gateway": True}]}, "needs"),
    ],
)
def test_the_flag_without_a_proxy_is_a_config_error(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=r'egress_proxy = "http://host:port"'):
        Config.model_validate(entry)


def test_a_stdio_server_with_the_flag_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="a stdio server sends no HTTP"):
        Config.model_validate(
            {
                "servers": [{"id": "s", "command": "true", "secure_web_gateway": True}],
                "settings": {"egress_proxy": "http://127.0.0.1:9"},
            }
        )


@pytest.mark.anyio
async def test_an_unreadable_ca_file_is_an_error_naming_it(
    inspected: RunningServer, direct: RunningServer, tmp_path: Path
) -> None:
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("not a certificate\n")
    config = two_servers(inspected, direct, f"http://127.0.0.1:{free_port()}", 5)
    settings = config.settings.model_copy(update={"egress_proxy_ca_file": str(bad)})
    config = config.model_copy(update={"settings": settings})
    async with Catalog(config.servers, egress_routes(config)) as catalog:
        details = catalog.status()["inspected"].error_details
        assert details is not None and not details.retryable
        assert f"settings.egress_proxy_ca_file: cannot load {bad}" in details.cause
        assert catalog.status()["direct"].state is ServerState.READY


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
def tls_upstream(pki: Pki) -> Iterator[RunningServer]:
    argv = [sys.executable, "-m", "tests.egress.tls_upstream", "--port", "{port}"]
    argv += ["--cert", str(pki.cert_file), "--key", str(pki.key_file)]
    with running(argv) as server:
        yield server


def https_server(upstream: RunningServer, proxy_url: str, ca_file: Path | None) -> Config:
    settings: dict[str, Any] = {"egress_proxy": proxy_url, "request_log_path": ":memory:"}
    if ca_file is not None:
        settings["egress_proxy_ca_file"] = str(ca_file)
    url = f"https://127.0.0.1:{upstream.port}/mcp"
    return Config.model_validate(
        {
            "servers": [
                {"id": "tls", "url": url, "secure_web_gateway": True, "connect_timeout_s": 10}
            ],
            "settings": settings,
        }
    )


@pytest.mark.anyio
async def test_https_goes_through_the_proxy_trusting_the_ca_file(
    proxy: RunningServer, tls_upstream: RunningServer, pki: Pki, record_file: Path
) -> None:
    # The CA file is what an intercepting proxy's re-signing CA would be: here it signed the
    # upstream's own certificate, which reaches us through the proxy's CONNECT tunnel.
    config = https_server(tls_upstream, proxy.base, pki.ca_file)
    async with Catalog(config.servers, egress_routes(config)) as catalog:
        assert catalog.status()["tls"].state is ServerState.READY, catalog.status()["tls"]
        assert not (await catalog.call_tool("tls", "echo", {"value": "x"})).is_error
    tunnels = [line for line in proxied(record_file) if line["method"] == "CONNECT"]
    assert tunnels and {line["port"] for line in tunnels} == {tls_upstream.port}


@pytest.mark.anyio
async def test_without_the_ca_file_the_server_is_untrusted_not_the_proxy_unreachable(
    proxy: RunningServer, tls_upstream: RunningServer
) -> None:
    config = https_server(tls_upstream, proxy.base, None)
    async with Catalog(config.servers, egress_routes(config)) as catalog:
        details = catalog.status()["tls"].error_details
    assert details is not None
    assert "CERTIFICATE_VERIFY_FAILED" in details.cause
    assert details.cause.endswith(f"(through the egress proxy {proxy.base})")
    assert "cannot reach the egress proxy" not in details.cause
