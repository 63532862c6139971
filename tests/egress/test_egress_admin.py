"""The Cloudflare-shaped admin API shows `secure_web_gateway` as configured (a portal's and a
server's own flag, as written, so a GET copied into a PUT keeps it), and for each server
whether its traffic goes through the egress proxy (`egress_routed`, ours)."""

from __future__ import annotations

from typing import Any

import httpx2
from anyio.from_thread import start_blocking_portal

from engine import Config, Gateway
from tests.upstreams.harness import free_port
from tests.web.conftest import ADMIN_TOKEN, _app, _poll, _serving, _settled

PORTALS = "/client/v4/accounts/local/access/ai-controls/mcp/portals"


def _config() -> Config:
    dead = f"http://127.0.0.1:{free_port()}/mcp"  # Error either way; only the flags matter
    return Config.from_dict(
        {
            "servers": [
                {"id": "inspected", "url": dead, "connect_timeout_s": 2},
                {"id": "direct", "url": dead, "connect_timeout_s": 2},
            ],
            "portals": [
                {"id": "gw", "secure_web_gateway": True, "servers": [{"server_id": "inspected"}]},
                {"id": "all", "servers": [{"server_id": "inspected"}, {"server_id": "direct"}]},
            ],
            "settings": {
                "request_log_path": ":memory:",
                "egress_proxy": f"http://127.0.0.1:{free_port()}",
            },
        }
    )


def _get(base: str, path: str) -> Any:
    response = httpx2.get(base + path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_admin_api_reflects_the_flags() -> None:
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(Gateway(_config())) as gateway,
    ):
        portal.call(_poll, lambda: _settled(gateway), "upstreams to settle")
        with _serving(portal, _app(gateway, ADMIN_TOKEN)) as base:
            gw = _get(base, f"{PORTALS}/gw")
            everything = _get(base, f"{PORTALS}/all")
            servers = _get(base, "/client/v4/accounts/local/access/ai-controls/mcp/servers")
    assert gw["secure_web_gateway"] is True
    assert everything["secure_web_gateway"] is False
    # `inspected` is shared: routed in every portal that lists it, as its connection is one.
    routed = {s["id"]: s["egress_routed"] for s in everything["servers"]}
    assert routed == {"inspected": True, "direct": False}
    assert {s["id"]: s["egress_routed"] for s in servers} == routed
    # Neither server has the flag of its own: `inspected` goes through for portal `gw`.
    assert {s["id"]: s["secure_web_gateway"] for s in servers} == {
        "inspected": False,
        "direct": False,
    }
    assert "egress proxy" in gw["servers"][0]["error_details"]["cause"]
