"""Writes through the Cloudflare-shaped admin API, driven by the official `cloudflare` SDK
(5.9.0) and by the seed's curl lines (httpx, host swapped) against a running portal whose
portals and servers live in the store: create a streamable-HTTP server (bearer token given
through the API) and a stdio one, a portal of both, change curation and code mode, sync,
delete; bad bodies are one 400 listing every problem, nothing half-applied; a read token is
403; concurrent PUTs serialize; secrets never leave the store in the clear."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudflare
import pytest
from anyio.from_thread import BlockingPortal
from cloudflare.types.zero_trust.access.ai_controls.mcp import (
    PortalListResponse,
    PortalReadResponse,
    PortalUpdateResponse,
)

from engine.config import Config, ConfigError, ConfigProblem
from tests.upstreams.harness import RunningServer, demo_argv, running
from tests.web.cf_write_helpers import (
    ACCOUNT,
    CLIENT_SECRET,
    HEADER_SECRET,
    UPSTREAM_SECRET,
    Running,
    http_upstream_body,
    log_file,
    run_portal,
    seed_config,
    stdio_demo,
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[RunningServer]:
    with running(demo_argv("--token", UPSTREAM_SECRET)) as server:
        yield server


@pytest.fixture(scope="module")
def cf(
    blocking_portal: BlockingPortal,
    tmp_path_factory: pytest.TempPathFactory,
    upstream: RunningServer,
) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("cfwrite")
    with log_file(tmp / "codemode.log"), run_portal(blocking_portal, seed_config(tmp), tmp) as r:
        r.wait_status("time", "Ready")
        yield r


def _config_rows(r: Running) -> list[tuple[Any, ...]]:
    with sqlite3.connect(r.db) as conn:
        return conn.execute(
            "SELECT kind, id, body_json FROM config_objects ORDER BY 1, 2"
        ).fetchall()


def test_sdk_creates_updates_syncs_and_deletes(cf: Running, upstream: RunningServer) -> None:
    mcp = cf.sdk()
    web = mcp.servers.create(account_id=ACCOUNT, **http_upstream_body(upstream))
    assert web is not None and web.id == "web" and web.hostname == upstream.url
    assert web.created_by == "writer" and web.created_at is not None
    assert web.status in ("waiting", "ready")
    cf.wait_status("web", "Ready")  # the token given through the API reached the upstream
    # Our own fields (a stdio server's command and args) go in the SDK's `extra_body`.
    local = mcp.servers.create(
        account_id=ACCOUNT,
        id="local",
        name="Local demo",
        hostname="stdio:demo",
        auth_type="unauthenticated",
        extra_body=stdio_demo(),
    )
    assert local is not None and local.hostname.startswith("stdio:")
    cf.wait_status("local", "Ready")

    portal = mcp.portals.create(
        account_id=ACCOUNT,
        id="ops",
        hostname="ops.example.test",
        name="Ops",
        code_mode="default_on",
        servers=[
            {"server_id": "web", "updated_tools": [{"name": "crash", "enabled": False}]},
            {"server_id": "local", "on_behalf": True},
        ],
    )
    assert portal is not None and portal.code_mode == "default_on" and portal.allow_code_mode
    assert [s.server_id for s in portal.servers] == ["web", "local"]
    assert portal.servers[1].on_behalf is True
    assert "ops" in cf.gateway.portals
    names = {t.name for t in cf.gateway.portal("ops").view.curation.tools if t.enabled}
    assert "web_echo" in names and "web_crash" not in names and "local_echo" in names

    updated = mcp.portals.update(
        "ops",
        account_id=ACCOUNT,
        hostname="ops.example.test",
        name="Ops team",
        code_mode="off",
        servers=[{"server_id": "web", "updated_tools": [{"name": "echo", "enabled": False}]}],
    )
    assert updated is not None and updated.name == "Ops team"
    assert (updated.code_mode, updated.allow_code_mode) == ("off", False)
    assert updated.modified_by == "writer"
    names = {t.name for t in cf.gateway.portal("ops").view.curation.tools if t.enabled}
    assert "web_echo" not in names and "web_crash" in names and "local_echo" not in names

    synced = mcp.servers.sync("web", account_id=ACCOUNT)
    assert synced is not None and synced.status == "ready"
    server = mcp.servers.update("web", account_id=ACCOUNT, name="Web", description="d")
    assert server is not None and (server.name, server.description) == ("Web", "d")
    cf.wait_status("web", "Ready")  # the secret stays when the PUT leaves it out

    deleted = mcp.portals.delete("ops", account_id=ACCOUNT)
    assert deleted is not None and deleted.id == "ops" and "ops" not in cf.gateway.portals
    assert mcp.servers.delete("local", account_id=ACCOUNT).id == "local"
    assert mcp.servers.delete("web", account_id=ACCOUNT).id == "web"
    assert [s.id for s in mcp.servers.list(account_id=ACCOUNT)] == ["time"]
    assert [k[:2] for k in _config_rows(cf)] == [("portal", "main"), ("server", "time")]


def test_the_seed_curl_lines_work(cf: Running) -> None:
    # curl .../portals -H "Authorization: Bearer $CLOUDFLARE_API_TOKEN"   (host swapped)
    listed = cf.http("GET", "/portals", "reader")
    assert listed.status_code == 200 and listed.json()["result"][0]["id"] == "main"
    # curl .../portals/$ID --request GET --header "Authorization: Bearer ..."
    got = cf.http("GET", "/portals/main", "reader").json()["result"]
    assert got["allow_code_mode"] is True and [s["server_id"] for s in got["servers"]] == ["time"]
    # curl .../portals/$ID --request PUT --header "Authorization: ..." --json
    #     '{"allow_code_mode": false}'
    put = cf.http("PUT", "/portals/main", json={"allow_code_mode": False})
    assert put.status_code == 200, put.text
    result = put.json()["result"]
    assert (result["allow_code_mode"], result["code_mode"]) == (False, "off")
    assert str(cf.gateway.portal("main").config.code_mode) == "off"
    # PUT replaces: what the body left out took its default (the seed's warning).
    assert result["servers"] == [] and result["name"] == "main"
    # As the seed advises, the body of the previous GET with the one change.
    mixed = cf.http("PUT", "/portals/main", json={**got, "allow_code_mode": False})
    assert _problems(mixed)[0].startswith("allow_code_mode: is false but code_mode is 'opt_in'")
    del got["code_mode"]
    back = cf.http("PUT", "/portals/main", json=got)
    assert back.status_code == 200, back.text
    assert back.json()["result"]["code_mode"] == "opt_in"
    # Each answer is the SDK's model too (strict pydantic validation of its fields).
    PortalListResponse.model_validate(listed.json()["result"][0])
    PortalUpdateResponse.model_validate(result)
    PortalReadResponse.model_validate(back.json()["result"])
    assert [s["server_id"] for s in back.json()["result"]["servers"]] == ["time"]
    assert cf.gateway.portal("main").config.name == "Main"
    # GET shows a portal without a hostname on the host asked; sending it back keeps none.
    assert cf.gateway.portal("main").config.hostname is None


def test_a_read_token_cannot_write(cf: Running) -> None:
    with pytest.raises(cloudflare.PermissionDeniedError) as info:
        cf.sdk("reader").portals.update("main", account_id=ACCOUNT, name="x")
    assert "read permission" in str(info.value)
    assert cf.gateway.portal("main").config.name == "Main"


def _problems(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["result"] is None
    assert all(e["code"] == 400 for e in body["errors"])
    return [e["message"] for e in body["errors"]]


BAD_PORTALS: list[tuple[dict[str, Any], list[str]]] = [
    (
        {"id": "p1", "hostname": "h.test", "name": 5, "allow_code_mode": "yes"},
        ["name: ", "allow_code_mode: "],
    ),
    (
        {"id": "p2", "hostname": "h.test", "name": "n", "servers": [{"server_id": "nope"}]},
        ["servers[0].server_id: no server with id 'nope'"],
    ),
    (
        {"id": "x" * 33, "hostname": "h.test", "name": "n"},
        ["id: "],
    ),
    (
        {"id": "main", "hostname": "h.test", "name": "n"},
        ["id: a portal 'main' exists already"],
    ),
    (
        {
            "id": "p3",
            "hostname": "h.test",
            "name": "n",
            "servers": [{"server_id": "time"}, {"server_id": "time"}],
        },
        ["servers[1].server_id: server 'time' is already in this portal"],
    ),
    (
        {
            "id": "p4",
            "hostname": "h.test",
            "name": "n",
            "allow_code_mode": False,
            "code_mode": "enforced",
        },
        ["allow_code_mode: is false but code_mode is 'enforced'"],
    ),
    ({"hostname": "h.test", "colour": "red"}, ["colour: is not a field", "id: is required"]),
]


@pytest.mark.parametrize(("body", "expected"), BAD_PORTALS)
def test_a_bad_portal_body_is_a_400_naming_each_field(
    cf: Running, body: dict[str, Any], expected: list[str]
) -> None:
    before = _config_rows(cf)
    messages = _problems(cf.http("POST", "/portals", json=body))
    for prefix in expected:
        assert any(m.startswith(prefix) for m in messages), (prefix, messages)
    assert _config_rows(cf) == before
    assert sorted(cf.gateway.portals) == ["main"]


def test_bad_server_writes_are_400_and_change_nothing(cf: Running) -> None:
    before = _config_rows(cf)
    messages = _problems(cf.http("DELETE", "/servers/time"))
    assert any("portal 'main' servers[0].server_id" in m for m in messages), messages
    messages = _problems(
        cf.http(
            "POST",
            "/servers",
            json={"id": "time", "name": "n", "hostname": "ftp://x", "auth_type": "magic"},
        )
    )
    assert any(m.startswith("id: a server 'time' exists already") for m in messages), messages
    assert any(m.startswith("auth_type: ") for m in messages), messages
    assert len(messages) == 2, messages
    bad_url = {"id": "new", "name": "n", "hostname": "ftp://x", "auth_type": "unauthenticated"}
    assert _problems(cf.http("POST", "/servers", json=bad_url))[0].startswith("hostname: ")
    too_long = {**bad_url, "id": "s" * 33, "hostname": "http://127.0.0.1:9/mcp"}
    assert _problems(cf.http("POST", "/servers", json=too_long))[0].startswith("id: ")
    wrong_types = {**bad_url, "hostname": "http://127.0.0.1:9/mcp", "default_disabled": "no"}
    wrong_types["updated_tools"] = [{"name": "x", "enabled": 1}]
    messages = _problems(cf.http("POST", "/servers", json=wrong_types))
    assert any(m.startswith("default_disabled: ") for m in messages), messages
    assert any(m.startswith("updated_tools[0].enabled: ") for m in messages), messages
    assert _problems(cf.http("PUT", "/portals/main", content=b"[1]"))[0].startswith("the body")
    assert _problems(cf.http("PUT", "/portals/main", content=b"{"))[0].startswith("the body")
    assert _config_rows(cf) == before
    assert [s.id for s in cf.gateway.config.servers] == ["time"]


def test_concurrent_puts_serialize_and_the_last_complete_write_wins(cf: Running) -> None:
    answers: list[int] = []

    def put(i: int) -> None:
        body = {"name": "Main", "description": f"w{i}", "servers": [{"server_id": "time"}]}
        response = cf.http("PUT", "/portals/main", json=body)
        answers.append(response.status_code)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert answers == [200] * 8
    running_description = cf.gateway.portal("main").config.description
    stored = {k[1]: json.loads(k[2]) for k in _config_rows(cf) if k[0] == "portal"}
    assert stored["main"].get("description") == running_description
    entries = httpx_get(cf, "/api/audit?limit=8").json()["result"]
    assert len(entries) == 8 and {e["id"] for e in entries} == {"main"}


def test_the_audit_log_records_who_when_what_without_secrets(
    cf: Running, upstream: RunningServer
) -> None:
    body = {**http_upstream_body(upstream, "audited"), "auth_type": "oauth"}
    body.pop("auth_credentials")
    body["client_secret"] = CLIENT_SECRET
    body["oauth_client_id"] = "audited-client"  # a secret belongs to a pre-registered client
    created = cf.http("POST", "/servers", json=body)
    assert created.status_code == 200, created.text
    assert created.json()["result"]["auth_config_summary"]["has_client_secret"] is True
    headers = json.dumps(
        {"headers": {"Authorization": f"Bearer {UPSTREAM_SECRET}", "X-K": HEADER_SECRET}}
    )
    changed = cf.http(
        "PUT",
        "/servers/audited",
        json={
            "name": "A",
            "hostname": upstream.url,
            "auth_type": "bearer",
            "auth_credentials": headers,
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["result"]["has_auth_credentials"] is True
    cf.wait_status("audited", "Ready")  # static headers reached the upstream
    assert cf.http("DELETE", "/servers/audited").status_code == 200
    response = httpx_get(cf, "/api/audit?limit=3")
    entries = response.json()["result"]
    assert [e["action"] for e in entries] == ["delete", "update", "create"]
    assert {e["id"] for e in entries} == {"audited"}
    assert {e["by"] for e in entries} == {"writer"} and all(e["at"] for e in entries)
    assert entries[1]["changes"]["auth_credentials"]["after"] == "<set>"
    assert entries[1]["changes"]["name"] == {"before": "Web demo", "after": "A"}
    text = response.text
    for secret in (UPSTREAM_SECRET, HEADER_SECRET, CLIENT_SECRET):
        assert secret not in text


def httpx_get(cf: Running, path: str) -> Any:
    import httpx2

    return httpx2.get(
        cf.base + path, headers={"Authorization": f"Bearer {cf.tokens['reader']}"}, timeout=60
    )


def test_secrets_are_never_shown_logged_or_stored_in_the_clear(
    cf: Running, upstream: RunningServer
) -> None:
    created = cf.http("POST", "/servers", json=http_upstream_body(upstream, "secretive"))
    assert created.status_code == 200, created.text
    cf.wait_status("secretive", "Ready")
    pages = [
        cf.http("GET", "/servers/secretive", "reader").text,
        cf.http("GET", "/servers", "reader").text,
        httpx_get(cf, "/").text,
        httpx_get(cf, "/api/portals").text,
        httpx_get(cf, "/api/logs").text,
        httpx_get(cf, "/api/audit").text,
    ]
    assert '"has_auth_credentials":true' in pages[0].replace(" ", "")
    cf.gateway.request_log.flush()
    files = [cf.db, cf.tmp / "codemode.log", cf.tmp / "requests.sqlite3"]
    blobs = [p.read_bytes() for p in files] + [p.read_bytes() for p in cf.tmp.glob("codemode.db-*")]
    for secret in (UPSTREAM_SECRET, HEADER_SECRET, CLIENT_SECRET):
        assert all(secret not in page for page in pages)
        assert all(secret.encode() not in blob for blob in blobs)
    with sqlite3.connect(cf.db) as conn:
        (enc,) = conn.execute(
            "SELECT secrets_enc FROM config_objects WHERE id = 'secretive'"
        ).fetchone()
    assert enc  # encrypted, present
    assert cf.http("DELETE", "/servers/secretive").status_code == 200


def test_file_mode_answers_writes_with_a_clear_error(
    blocking_portal: BlockingPortal, tmp_path: Path
) -> None:
    config = seed_config(tmp_path, mode="file")
    with run_portal(blocking_portal, config, tmp_path) as r:
        response = r.http("PUT", "/portals/main", json={"allow_code_mode": False})
        assert response.status_code == 405
        assert 'config = "file"' in response.json()["errors"][0]["message"]
        assert r.http("GET", "/portals/main", "reader").status_code == 200


def test_a_failed_apply_rolls_the_store_write_back(cf: Running) -> None:
    def refuse(config: Config) -> Callable[[], None]:
        if any(p.id == "doomed" for p in config.portals):
            raise ConfigError([ConfigProblem("portals", "refused by a test hook")])
        return lambda: None

    before = _config_rows(cf)
    audit_before = httpx_get(cf, "/api/audit?limit=1").json()["result"]
    cf.gateway.on_reload(refuse)
    try:
        body = {"id": "doomed", "hostname": "doomed.test", "name": "Doomed"}
        messages = _problems(cf.http("POST", "/portals", json=body))
    finally:
        cf.gateway._reload_hooks.remove(refuse)
    assert messages == ["portals: refused by a test hook"]
    assert _config_rows(cf) == before and "doomed" not in cf.gateway.portals
    assert httpx_get(cf, "/api/audit?limit=1").json()["result"] == audit_before


def test_require_approval_is_written_and_shown(cf: Running) -> None:
    got = cf.http("GET", "/portals/main", "reader").json()["result"]
    (ref,) = got["servers"]
    tool = ref["tools"][0]["name"]
    ref["require_approval"] = False
    ref["updated_tools"] = [{"name": tool, "require_approval": True}]
    put = cf.http("PUT", "/portals/main", json=got)
    assert put.status_code == 200, put.text
    (shown,) = put.json()["result"]["servers"]
    assert shown["require_approval"] is False
    assert {"name": tool, "require_approval": True} in shown["updated_tools"]
    curated = cf.gateway.portal("main").view.curation.tools
    assert [t.upstream_name for t in curated if t.require_approval] == [tool]
    ref["require_approval"], ref["updated_tools"] = True, []
    put = cf.http("PUT", "/portals/main", json=got)
    assert put.status_code == 200, put.text
    curated = cf.gateway.portal("main").view.curation.tools
    assert curated and all(t.require_approval for t in curated)
    ref["require_approval"] = False
    assert cf.http("PUT", "/portals/main", json=got).status_code == 200
