"""The Cloudflare-compatible admin API (`/client/v4/...`) driven by the official `cloudflare`
SDK (5.9.0) against a real portal: every answer parses into the SDK's models with our values;
wrong account 404, wrong or revoked token 401, read token on sync 403, writes 405; the seed's
curl line works over plain HTTP; named tokens are stored hashed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudflare
import httpx2
import pytest
from anyio.from_thread import BlockingPortal
from cloudflare import Cloudflare

from engine import Config, Gateway
from tests.env import restore_env
from tests.upstreams.harness import free_port
from tests.web.conftest import (
    ADMIN_TOKEN,
    UPSTREAM_TOKEN,
    UPSTREAM_TOKEN_ENV,
    _app,
    _poll,
    _serving,
    _settled,
    web_config,
)

ACCOUNT = "acct-1"


class Portal:
    def __init__(self, base: str, tokens: dict[str, str], db: Path) -> None:
        self.base, self.tokens, self.db = base, tokens, db

    def client(self, token: str) -> Cloudflare:
        return Cloudflare(api_token=token, base_url=f"{self.base}/client/v4", max_retries=0)

    @property
    def mcp(self) -> Any:
        return self.client(self.tokens["reader"]).zero_trust.access.ai_controls.mcp


@pytest.fixture(scope="module")
def cf(
    blocking_portal: BlockingPortal, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    import os

    tmp = tmp_path_factory.mktemp("cfapi")
    data = web_config(free_port()).model_dump(exclude_none=True)
    db = tmp / "codemode.db"
    # Read-only: portals and servers from the file (writes are tests/web/test_cf_write.py).
    data["admin"] = {"account_id": ACCOUNT, "config": "file"}
    data["settings"] = {"request_log_path": ":memory:", "database_url": f"sqlite+aiosqlite:///{db}"}
    config = Config.from_dict(data)
    previous_env = os.environ.get(UPSTREAM_TOKEN_ENV)
    os.environ[UPSTREAM_TOKEN_ENV] = UPSTREAM_TOKEN
    try:
        with blocking_portal.wrap_async_context_manager(Gateway(config)) as gw:
            blocking_portal.call(_poll, lambda: _settled(gw), "upstreams to settle")
            assert gw.store is not None
            tokens = {
                "reader": blocking_portal.call(gw.store.admin_tokens.create, "reader", "read"),
                "writer": blocking_portal.call(gw.store.admin_tokens.create, "writer", "write"),
                "gone": blocking_portal.call(gw.store.admin_tokens.create, "gone", "write"),
            }
            blocking_portal.call(gw.store.admin_tokens.revoke, "gone")
            with _serving(blocking_portal, _app(gw, ADMIN_TOKEN)) as base:
                yield Portal(base, tokens, db)
    finally:
        restore_env(UPSTREAM_TOKEN_ENV, previous_env)


def test_portals_list_and_read_parse_into_the_sdk_models(cf: Portal) -> None:
    page = cf.mcp.portals.list(account_id=ACCOUNT, per_page=1)
    assert [p.id for p in page.result] == ["main"]
    assert page.result_info is not None and page.result_info.per_page == 1
    assert [p.id for p in cf.mcp.portals.list(account_id=ACCOUNT)] == ["main", "private"]
    main = cf.mcp.portals.read("main", account_id=ACCOUNT)
    assert main is not None
    assert main.name == "Team tools & <clocks>" and main.allow_code_mode is True
    assert main.code_mode == "opt_in" and main.secure_web_gateway is False
    assert main.hostname.startswith("127.0.0.1:")
    time, down = main.servers
    assert (time.id, time.server_id, time.status) == ("time", "time", "ready")
    assert time.hostname == "stdio:mcp-server-time"
    assert time.updated_tools is not None
    assert time.updated_tools[0].name == "convert_time"
    assert time.updated_tools[0].portal_alias == "convert"
    assert any(t["alias"] == "time_convert" for t in time.tools)
    assert down.status == "error" and down.auth_type == "bearer"
    assert down.error_details is not None and down.error_details.is_upstream is False
    private = cf.mcp.portals.read("private", account_id=ACCOUNT)
    assert private is not None
    assert (private.hostname, private.allow_code_mode) == ("private.example.test", False)
    assert private.code_mode == "off"


def test_servers_list_read_and_sync(cf: Portal) -> None:
    servers = list(cf.mcp.servers.list(account_id=ACCOUNT))
    assert [s.id for s in servers] == ["time", "down"]
    time = cf.mcp.servers.read("time", account_id=ACCOUNT)
    assert time is not None and time.status == "ready" and time.name == "Clock"
    assert {t["name"] for t in time.tools} >= {"get_current_time", "convert_time"}
    writer = cf.client(cf.tokens["writer"]).zero_trust.access.ai_controls.mcp
    synced = writer.servers.sync("time", account_id=ACCOUNT)
    assert synced is not None and synced.status == "ready"
    env = cf.client(ADMIN_TOKEN).zero_trust.access.ai_controls.mcp  # CODEMODE_ADMIN_TOKEN
    down = env.servers.sync("down", account_id=ACCOUNT)
    assert down is not None and down.status == "error" and down.error


def test_secrets_never_appear(cf: Portal) -> None:
    body = httpx2.get(
        f"{cf.base}/client/v4/accounts/{ACCOUNT}/access/ai-controls/mcp/servers/down",
        headers={"Authorization": f"Bearer {cf.tokens['reader']}"},
        timeout=30,
    ).text
    assert UPSTREAM_TOKEN not in body and UPSTREAM_TOKEN_ENV not in body
    assert '"has_auth_credentials":true' in body.replace(" ", "")
    for token in cf.tokens.values():
        assert token not in body


def test_wrong_account_is_not_found(cf: Portal) -> None:
    with pytest.raises(cloudflare.NotFoundError):
        cf.mcp.portals.list(account_id="local")
    with pytest.raises(cloudflare.NotFoundError):
        cf.mcp.portals.read("nope", account_id=ACCOUNT)


@pytest.mark.parametrize("which", ["wrong", "gone"])
def test_wrong_or_revoked_token_is_401(cf: Portal, which: str) -> None:
    token = cf.tokens.get(which, "cma_wrong")
    with pytest.raises(cloudflare.AuthenticationError):
        cf.client(token).zero_trust.access.ai_controls.mcp.portals.list(account_id=ACCOUNT)


def test_read_token_cannot_sync(cf: Portal) -> None:
    with pytest.raises(cloudflare.PermissionDeniedError) as info:
        cf.mcp.servers.sync("time", account_id=ACCOUNT)
    assert "read permission" in str(info.value)


def test_writes_answer_405_saying_why(cf: Portal) -> None:
    writer = cf.client(cf.tokens["writer"]).zero_trust.access.ai_controls.mcp
    with pytest.raises(cloudflare.APIStatusError) as info:
        writer.portals.update("main", account_id=ACCOUNT, hostname="x", name="x")
    assert info.value.status_code == 405
    assert "read-only" in json.dumps(info.value.body)
    with pytest.raises(cloudflare.APIStatusError) as info:
        writer.servers.delete("time", account_id=ACCOUNT)
    assert info.value.status_code == 405


def test_seed_curl_line_works(cf: Portal) -> None:
    # curl https://api.cloudflare.com/client/v4/accounts/$ACCOUNT_ID/access/ai-controls/mcp/portals
    #     -H "Authorization: Bearer $CLOUDFLARE_API_TOKEN"   (host swapped)
    response = httpx2.get(
        f"{cf.base}/client/v4/accounts/{ACCOUNT}/access/ai-controls/mcp/portals",
        headers={"Authorization": f"Bearer {cf.tokens['reader']}"},
        timeout=30,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["errors"] == []
    assert [p["id"] for p in body["result"]] == ["main", "private"]
    assert body["result_info"]["total_count"] == 2
    bad = httpx2.get(
        f"{cf.base}/client/v4/accounts/{ACCOUNT}/access/ai-controls/mcp/portals",
        params={"per_page": "101"},
        headers={"Authorization": f"Bearer {cf.tokens['reader']}"},
        timeout=30,
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["message"].startswith("per_page")


def test_store_holds_hashes_never_tokens(cf: Portal) -> None:
    with sqlite3.connect(cf.db) as conn:
        rows = conn.execute("SELECT name, sha256, permission FROM admin_tokens").fetchall()
    dump = repr(rows)
    assert {r[0] for r in rows} == {"reader", "writer", "gone"}
    for token in cf.tokens.values():
        assert token not in dump
