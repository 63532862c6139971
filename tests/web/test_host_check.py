"""DNS-rebinding protection on every route, not only `/mcp`: a request whose Host is not local,
a portal hostname or a public host is refused (421), and so is one whose Origin is foreign (403).

The routes are read from the app itself, and so are the files of every static mount, so a
route or file added later is covered without editing this file. The health checks
(`/healthz`, `/readyz`) are the one exception, by design: a load balancer names the replica by
its address; they answer any Host with a fixed word or two and nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from engine.gateway import Gateway
from engine.server.app import create_app
from engine.server.health import HEALTH_PATHS
from tests.web.conftest import ADMIN_TOKEN, Served

_PARAMS = {
    "portal_id": "main",
    "server_id": "time",
    "resource": "mcp",
    "account_id": "local",
    "id": "main",
    "rest": "anything",
}
_EXTRA = ["/favicon.ico", "/static/site.css", "/static/", "/p/main/nothing"]
"""Paths no route serves: refused before the 404 too."""
_METHODS = ["GET", "HEAD", "POST", "DELETE", "OPTIONS"]


def _paths(gateway: Gateway) -> list[str]:
    app = create_app(gateway)
    paths = []
    for route in app.routes:
        template: str = getattr(route, "path")  # noqa: B009 - BaseRoute does not declare it
        if template in HEALTH_PATHS:
            continue  # any Host: test_health_checks_answer_any_host_and_say_nothing
        paths.append(re.sub(r"\{(\w+)(:\w+)?\}", lambda m: _PARAMS[m.group(1)], template))
        if isinstance(route, Mount) and isinstance(route.app, StaticFiles):
            files = Path(str(route.app.directory)).iterdir()
            paths += [f"{template}/{file.name}" for file in files if file.is_file()]
    return paths + _EXTRA


def _request(served: Served, method: str, path: str, **headers: str) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", **headers}
    return httpx2.request(method, served.base + path, headers=headers, timeout=30)


def test_every_route_is_listed(gateway: Gateway) -> None:
    paths = _paths(gateway)
    for expected in ("/", "/p/main/", "/mcp", "/p/main/mcp", "/api/portals", "/api/logs"):
        assert expected in paths
    assert "/.well-known/oauth-protected-resource/mcp" in paths
    assert {"/static/homepage.css", "/static/homepage.js"} <= set(paths)


@pytest.mark.parametrize("method", _METHODS)
def test_foreign_host_is_refused_on_every_route(
    served: Served, gateway: Gateway, method: str
) -> None:
    for path in _paths(gateway):
        response = _request(served, method, path, host="evil.example")
        assert response.status_code == 421, (method, path, response.status_code)
        assert "evil.example" not in response.text


@pytest.mark.parametrize("method", _METHODS)
def test_foreign_origin_is_refused_on_every_route(
    served: Served, gateway: Gateway, method: str
) -> None:
    for path in _paths(gateway):
        response = _request(served, method, path, origin="http://evil.example")
        assert response.status_code == 403, (method, path, response.status_code)


def test_the_homepage_does_not_echo_a_foreign_host(served: Served) -> None:
    """The report: `curl -H 'Host: evil.example' /` answered 200 with evil.example URLs."""
    response = httpx2.get(served.base + "/", headers={"host": "evil.example"}, timeout=10)
    assert response.status_code == 421
    assert "http://evil.example/mcp" not in response.text


def test_allowed_hosts_and_origins_still_pass(served: Served) -> None:
    port = served.base.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", "private.example.test"):
        assert _request(served, "GET", "/", host=host).status_code == 200, host
        assert _request(served, "GET", "/api/portals", host=host).status_code == 200, host
        assert _request(served, "GET", "/static/homepage.css", host=host).status_code == 200, host
    for origin in (served.base, f"http://localhost:{port}", "https://private.example.test"):
        assert _request(served, "GET", "/", origin=origin).status_code == 200, origin
        metadata = "/.well-known/oauth-protected-resource/mcp"
        assert _request(served, "GET", metadata, origin=origin).status_code == 200, origin
    # Unknown paths still get their 404 when the Host is fine.
    assert _request(served, "GET", "/favicon.ico").status_code == 404


def test_health_checks_answer_any_host_and_say_nothing(served: Served) -> None:
    expected = {"/healthz": {"status": "ok"}, "/readyz": {"ready": True}}
    for path, body in expected.items():
        for headers in ({"host": "evil.example"}, {"origin": "http://evil.example"}, {}):
            response = _request(served, "GET", path, **headers)
            assert (response.status_code, response.json()) == (200, body), (path, headers)
            assert response.headers["cache-control"] == "no-store"
        assert _request(served, "POST", path, host="evil.example").status_code == 405
