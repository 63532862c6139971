"""The OpenID Connect side without a provider (the harness's `oidc-provider` tests drive the
real one): a missing client secret stops serving with a clear error; a provider that cannot
be reached makes /auth/login a 502 page, not a traceback; the access log hides codes."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from engine import Config, Gateway
from engine.server.app import create_app
from engine.server.serve import RedactQuery
from engine.server.signin import IdentityError
from tests.server.conftest import ServedPortal
from tests.upstreams.harness import free_port

pytestmark = [pytest.mark.anyio]
SECRET_ENV = "CODEMODE_OIDC_TEST_SECRET"
KEY_ENV = "CODEMODE_OIDC_TEST_KEY"


def oidc_config(directory: Path, issuer: str) -> Config:
    return Config.from_dict(
        {
            "identity": {
                "issuer": issuer,
                "client_id": "codemode",
                "client_secret_env": SECRET_ENV,
            },
            "policies": [{"id": "all", "decision": "allow", "include": [{"everyone": True}]}],
            "portals": [{"id": "team", "policies": ["all"]}],
            "settings": {
                "request_log_path": ":memory:",
                "database_url": f"sqlite+aiosqlite:///{directory / 'codemode.db'}",
                "secret_key_env": KEY_ENV,
            },
        }
    )


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, secrets.token_urlsafe(32))


async def test_a_missing_client_secret_is_a_clear_error(tmp_path: Path, keys: None) -> None:
    config = oidc_config(tmp_path, "http://127.0.0.1:1")
    async with Gateway(config) as gateway:
        assert gateway.store is not None
        with pytest.raises(IdentityError, match=SECRET_ENV):
            create_app(gateway)
    assert gateway.store is None  # closed with the gateway


@pytest.fixture
def unreachable(
    tmp_path: Path, keys: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServedPortal]:
    monkeypatch.setenv(SECRET_ENV, "s3cret-" + secrets.token_hex(8))
    served = ServedPortal(oidc_config(tmp_path, f"http://127.0.0.1:{free_port()}"))
    served.start()
    try:
        yield served
    finally:
        served.stop()


async def test_an_unreachable_provider_is_a_page(unreachable: ServedPortal) -> None:
    async with httpx2.AsyncClient() as http:
        login = await http.get(f"{unreachable.base}/auth/login?next=/")
        callback = await http.get(f"{unreachable.base}/auth/callback?code=abc&state=forged")
        dev = await http.get(f"{unreachable.base}/auth/dev")
    assert login.status_code == 502 and "could not be reached" in login.text
    # A callback with a state this browser never got: refused, the code not echoed.
    assert callback.status_code == 400 and "abc" not in callback.text
    assert dev.status_code == 404  # no dev sign-in beside a real provider


def test_the_access_log_hides_codes_and_states() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/auth/callback?code=SECRET1&state=SECRET2&x=1", "1.1", 303),
        None,
    )
    RedactQuery().filter(record)
    line = record.getMessage()
    assert "SECRET" not in line and "code=…" in line and "x=1" in line
