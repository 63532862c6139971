"""Resources in the Cloudflare-shaped admin read API, shaped as its tools and prompts are:
each server's upstream resources and templates (named by URI, the key `updated_resources`
uses), and each portal's curated ones with their client URIs, alias and enabled flag."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from engine.server.cf_admin import _CfApi
from tests.resources.conftest import ALIASED_DOC, HIDDEN_DOC
from tests.server.conftest import ServedPortal


def _request() -> Request:
    scope = {"type": "http", "headers": [], "server": ("127.0.0.1", 80), "path": "/"}
    return Request({**scope, "scheme": "http", "query_string": b"", "method": "GET"})


def test_admin_read_api_shows_resources_and_their_curation(served: ServedPortal) -> None:
    gateway = served.gateway
    assert gateway is not None
    api = _CfApi(gateway, auth=None)  # type: ignore[arg-type]  # reads need no auth object
    [everything] = [s for s in gateway.config.servers if s.id == "everything"]
    server = api.server_out(everything, {})
    assert HIDDEN_DOC in {r["name"] for r in server["resources"]}  # upstream: all of them
    assert {"name": HIDDEN_DOC, "enabled": False} in server["updated_resources"]
    assert "demo://resource/dynamic/text/{resourceId}" in {
        t["name"] for t in server["resource_templates"]
    }

    portal = api.portal_out(gateway.portals["main"], _request(), {})
    by_id: dict[str, Any] = {s["server_id"]: s for s in portal["servers"]}
    curated = {r["name"]: r for r in by_id["everything"]["resources"]}
    assert curated[HIDDEN_DOC]["enabled"] is False
    assert curated[ALIASED_DOC]["alias"] == "arch" and curated[ALIASED_DOC]["enabled"]
    assert {"name": ALIASED_DOC, "portal_alias": "arch"}.items() <= next(
        o for o in by_id["everything"]["updated_resources"] if o["name"] == ALIASED_DOC
    ).items()
    res2 = {r["name"]: r for r in by_id["res2"]["resources"]}
    assert res2["test://static-text"]["uri"] == "codemode://res2/test://static-text"
