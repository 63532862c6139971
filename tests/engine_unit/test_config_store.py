"""The store-backed config's pieces that need no database: a SIGHUP in store mode keeps the
running portals and servers, secrets given through the API stay out of dumps and reprs and
become the upstream's headers, and `auth_credentials` is parsed strictly."""

from __future__ import annotations

import pytest

from engine.config import Config
from engine.config_store import export_toml, keep_stored_entries, with_entries
from engine.credentials import StoredCredentials, parse_auth_credentials, upstream_headers

SECRET = "sk-" + "a1b2c3d4" * 4


def _config(server_id: str, mode: str = "store") -> Config:
    return Config.from_dict(
        {
            "servers": [{"id": server_id, "url": "http://127.0.0.1:9/mcp"}],
            "portals": [{"id": "main", "servers": [{"server_id": server_id}]}],
            "admin": {"config": mode},
            "settings": {"request_log_path": ":memory:"},
        }
    )


def test_a_reload_in_store_mode_keeps_the_running_servers_and_portals() -> None:
    running, reread = _config("from_store"), _config("from_file")
    kept = keep_stored_entries(reread, running)
    assert [s.id for s in kept.servers] == ["from_store"]
    file_mode = keep_stored_entries(_config("from_file", "file"), _config("x", "file"))
    assert [s.id for s in file_mode.servers] == ["from_file"]


def test_stored_secrets_are_headers_in_memory_only() -> None:
    base = _config("web")
    server = {
        "id": "web",
        "url": "http://127.0.0.1:9/mcp",
        "auth_type": "bearer",
        "credentials": "store",
    }
    portals = [{"id": "main", "servers": [{"server_id": "web"}]}]
    bearer = with_entries(base, [server], portals, {"web": StoredCredentials(bearer=SECRET)})
    web = bearer.server("web")
    assert upstream_headers(web) == {"Authorization": f"Bearer {SECRET}"}
    headers = StoredCredentials(headers={"X-Key": SECRET})
    static = with_entries(base, [server], portals, {"web": headers}).server("web")
    assert upstream_headers(static) == {"X-Key": SECRET}
    for shown in (repr(web), repr(static), str(web.model_dump()), export_toml(bearer)):
        assert SECRET not in shown
    assert 'credentials = "store"' in export_toml(bearer)
    # A changed secret is a changed server (the apply reconnects it).
    assert web != static


@pytest.mark.parametrize(
    ("given", "bearer", "headers"),
    [
        ("tok-123", "tok-123", {}),
        (
            '{"headers": {"cf-access-client-id": "a", "X-B": "b"}}',
            None,
            {"cf-access-client-id": "a", "X-B": "b"},
        ),
    ],
)
def test_auth_credentials_token_or_headers(
    given: str, bearer: str | None, headers: dict[str, str]
) -> None:
    assert parse_auth_credentials(given) == (bearer, headers)


@pytest.mark.parametrize(
    "given",
    [
        "",
        "two words",
        '{"headers": {}}',
        '{"headers": {"bad name": "x"}}',
        '{"x": 1}',
        '{"token": ',
    ],
)
def test_bad_auth_credentials_are_refused_without_echoing(given: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_auth_credentials(given)
    assert given not in str(info.value) or not given
