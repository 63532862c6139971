"""The admin and logs API over real HTTP: auth, shapes, secrets, sync, logs and parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx2
import pytest

from engine.credentials import hash_api_key
from engine.server.admin_models import ErrorEnvelope, PortalOut
from engine.surfaces import Surface
from tests.web.conftest import ADMIN_TOKEN, API_KEY, UPSTREAM_TOKEN, UPSTREAM_TOKEN_ENV, Served

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _get(url: str, headers: dict[str, str] | None = None, /, **params: str) -> httpx2.Response:
    return httpx2.get(url, headers=AUTH if headers is None else headers, params=params, timeout=30)


def _error(response: httpx2.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = ErrorEnvelope.model_validate(response.json())
    assert body.errors[0].code == status
    return body.errors[0].message


def test_no_token_configured_is_503_saying_how_to_set_it(served_without_token: str) -> None:
    message = _error(_get(served_without_token + "/api/portals"), 503)
    assert "CODEMODE_ADMIN_TOKEN" in message
    # Even a request that carries some token is refused: there is nothing to compare with.
    _error(_get(served_without_token + "/api/logs", {"Authorization": "Bearer x"}), 503)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": ADMIN_TOKEN},
        {"Authorization": "Basic " + ADMIN_TOKEN},
    ],
)
def test_missing_or_wrong_token_is_401(served: Served, headers: dict[str, str]) -> None:
    response = _get(served.base + "/api/portals", headers)
    _error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_openapi_document_is_public(served: Served) -> None:
    response = _get(served.base + "/api/openapi.json", {})
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        "/api/portals",
        "/api/portals/{portal_id}",
        "/api/servers/{server_id}/sync",
        "/api/logs",
        "/api/audit",
    }


def test_portals_in_the_admin_api_shape(served: Served) -> None:
    response = _get(served.base + "/api/portals")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    portals = {p["id"]: PortalOut.model_validate(p) for p in body["result"]}
    assert list(portals) == ["main", "private"]
    main = portals["main"]
    assert main.hostname is None and main.allow_code_mode and not main.requires_api_key
    time, down = main.servers
    assert (time.id, time.status.value, time.transport, time.hostname) == (
        "time",
        "Ready",
        "stdio",
        None,
    )
    assert time.tool_count == 2 and time.last_successful_sync is not None
    tools = {t.name: t for t in time.tools}
    assert tools["convert_time"].alias == "time_convert" and tools["convert_time"].enabled
    assert tools["get_current_time"].alias == "time_get_current_time"
    assert [o.model_dump(exclude_none=True) for o in time.updated_tools] == [
        {"name": "convert_time", "portal_alias": "convert"}
    ]
    assert down.status.value == "Error" and down.auth_type == "bearer"
    assert down.error_details is not None and not down.error_details.is_upstream
    assert down.error == down.error_details.cause and "cannot reach" in down.error
    assert down.tools == [] and down.last_successful_sync is None
    private = portals["private"]
    assert private.hostname == "private.example.test"
    assert not private.allow_code_mode and private.requires_api_key


def test_secrets_never_appear(served: Served) -> None:
    texts = [
        _get(served.base + path).text
        for path in ("/api/portals", "/api/portals/main", "/api/portals/private")
    ]
    for secret in (UPSTREAM_TOKEN, UPSTREAM_TOKEN_ENV, API_KEY, hash_api_key(API_KEY)):
        assert all(secret not in text for text in texts)


def test_one_portal_and_unknown_portal(served: Served) -> None:
    response = _get(served.base + "/api/portals/private")
    assert response.status_code == 200
    assert PortalOut.model_validate(response.json()["result"]).id == "private"
    message = _error(_get(served.base + "/api/portals/nope"), 404)
    assert message == "no portal 'nope' (portals: main, private)"


def test_sync_one_server(served: Served) -> None:
    response = httpx2.post(served.base + "/api/servers/time/sync", headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["id"] == "time" and result["status"] == "Ready" and result["tool_count"] == 2
    before = datetime.fromisoformat(result["last_synced"])
    again = httpx2.post(served.base + "/api/servers/time/sync", headers=AUTH, timeout=60)
    assert datetime.fromisoformat(again.json()["result"]["last_synced"]) > before


def test_sync_of_a_down_server_reports_its_error(served: Served) -> None:
    response = httpx2.post(served.base + "/api/servers/down/sync", headers=AUTH, timeout=60)
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["status"] == "Error" and "cannot reach" in result["error_details"]["cause"]


def test_sync_unknown_server_and_wrong_method(served: Served) -> None:
    response = httpx2.post(served.base + "/api/servers/nope/sync", headers=AUTH, timeout=30)
    assert _error(response, 404) == "no server 'nope' (servers: time, down)"
    wrong = _get(served.base + "/api/servers/time/sync")
    assert _error(wrong, 405) == "use POST on this path"
    assert wrong.headers["allow"] == "POST"


def test_logs_after_calls(served: Served) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    portal = served.gateway.portal("main")
    ok = served.run(portal.call_tool, Surface.ALL, "time_get_current_time", {"timezone": "UTC"})
    assert not ok.is_error
    bad_zone = {"source_timezone": "Nowhere/X", "time": "10:00", "target_timezone": "UTC"}
    served.run(portal.call_tool, Surface.ALL, "time_convert", bad_zone)
    response = _get(served.base + "/api/logs", server="time", since=start.isoformat())
    assert response.status_code == 200
    entries = response.json()["result"]
    assert [e["capability"] for e in entries[:2]] == ["time_convert", "time_get_current_time"]
    newest, older = entries[:2]
    assert older["status"] == "ok" and newest["status"] == "error"
    assert older["portal"] == "main" and older["kind"] == "tool_call"
    assert older["duration_ms"] >= 0 and datetime.fromisoformat(older["time"]) >= start
    one = _get(served.base + "/api/logs", portal="main", limit="1").json()["result"]
    assert len(one) == 1 and one[0]["capability"] == "time_convert"
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert _get(served.base + "/api/logs", since=future).json()["result"] == []
    assert _get(served.base + "/api/logs", portal="private").json()["result"] == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": "0"}, "limit: '0' is not a whole number from 1 to 1000"),
        ({"limit": "1001"}, "limit: '1001' is not a whole number from 1 to 1000"),
        ({"limit": "ten"}, "limit: 'ten' is not a whole number from 1 to 1000"),
        ({"limit": ""}, "limit: '' is not a whole number from 1 to 1000"),
        ({"limit": "5_0"}, "limit: '5_0' is not a whole number from 1 to 1000"),
        ({"since": "yesterday"}, "since: 'yesterday' is not an RFC 3339 time"),
        ({"since": "2026-01-01"}, "since: '2026-01-01' is not an RFC 3339 time"),
        ({"since": "2026-01-01T00:00:00"}, "since: '2026-01-01T00:00:00' is not an RFC 3339"),
        ({"since": "2026-13-01T00:00:00Z"}, "since: '2026-13-01T00:00:00Z' is not an RFC 3339"),
        ({"portal": ""}, "portal: '' is not an id"),
        ({"server": "a/b"}, "server: 'a/b' is not an id"),
    ],
)
def test_bad_log_parameters_are_400(served: Served, params: dict[str, str], expected: str) -> None:
    message = _error(_get(served.base + "/api/logs", **params), 400)
    assert message.startswith(expected)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"portal": "nope"}, "portal: no portal 'nope' (portals: main, private)"),
        ({"server": "nope"}, "server: no server 'nope' (servers: time, down)"),
    ],
)
def test_unknown_log_filter_is_404(served: Served, params: dict[str, str], expected: str) -> None:
    assert _error(_get(served.base + "/api/logs", **params), 404) == expected


def test_since_accepts_rfc3339_forms(served: Served) -> None:
    for since in (
        "2026-01-01t00:00:00z",
        "2026-01-01T00:00:00.123456789+02:00",
        "2016-12-31T23:59:60Z",
    ):
        assert _get(served.base + "/api/logs", since=since).status_code == 200
