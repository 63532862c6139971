"""DLP on a running portal, with a real `mcp` client and a real upstream that echoes what it
receives (tests/upstreams/demo.py `echo`): block, redact and log, on a direct call and inside
`code`; the request log (SQLite and JSON lines) and the process's log records never hold the
secret.

Portals over the one demo server: `blocks`, `redacts` and `logs` (credentials_and_secrets and
financial_information at that action), `custom` (a custom profile, blocking), and `results`
(redacting results too). The server itself has no DLP settings: a portal's profiles apply.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from engine import Config
from tests.env import restore_env
from tests.server.conftest import DEMO_TOKEN, DEMO_TOKEN_ENV, ServedPortal, eventually
from tests.upstreams.harness import RunningServer, demo_argv, running

pytestmark = pytest.mark.anyio

_ALNUM = string.ascii_letters + string.digits
GITHUB_TOKEN = "ghp_" + "".join(secrets.choice(_ALNUM) for _ in range(36))
"""Made up at run time: shaped like a GitHub token, valid nowhere."""
TEST_CARD = "4111 1111 1111 1111"
"""A card network's published test number (passes Luhn)."""
ECHO = "demo_echo"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def _portal(pid: str, action: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "servers": [{"server_id": "demo"}],
        "dlp_profiles": ["credentials_and_secrets", "financial_information"],
        "dlp_action": action,
        **extra,
    }


def dlp_config(demo_url: str, log_dir: Path) -> Config:
    return Config.from_dict(
        {
            "servers": [
                {
                    "id": "demo",
                    "url": demo_url,
                    "auth_type": "bearer",
                    "bearer_token_env": DEMO_TOKEN_ENV,
                }
            ],
            "dlp_custom_profiles": [
                {"id": "project_names", "patterns": [r"\bPROJ-\d{4}\b"], "keywords": ["Bluebird"]},
                {"id": "on_purpose", "keywords": ["on purpose"]},
            ],
            "portals": [
                _portal("blocks", "block"),
                _portal("redacts", "redact"),
                _portal("logs", "log"),
                {
                    "id": "custom",
                    "servers": [{"server_id": "demo"}],
                    "dlp_profiles": ["project_names"],
                },
                _portal("results", "redact", dlp_scan_results=True),
                {
                    "id": "resultblock",
                    "servers": [{"server_id": "demo"}],
                    "dlp_profiles": ["on_purpose"],
                    "dlp_scan_results": True,
                },
            ],
            "settings": {
                "request_log_path": str(log_dir / "requests.sqlite3"),
                "request_log_jsonl_path": str(log_dir / "requests.jsonl"),
            },
        }
    )


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPortal]:
    log_dir = tmp_path_factory.mktemp("dlp-logs")
    demo: RunningServer
    with running(demo_argv(), env={"DEMO_TOKEN": DEMO_TOKEN}) as demo:
        previous_env = os.environ.get(DEMO_TOKEN_ENV)
        os.environ[DEMO_TOKEN_ENV] = DEMO_TOKEN
        served = ServedPortal(dlp_config(demo.url, log_dir))
        served.start()
        try:
            yield served
        finally:
            served.stop()
            restore_env(DEMO_TOKEN_ENV, previous_env)


@asynccontextmanager
async def client(portal: ServedPortal, pid: str, query: str = "") -> AsyncIterator[Client]:
    url = f"{portal.base}/p/{pid}/mcp{query}"
    async with Client(streamable_http_client(url)) as session:
        yield session


def text(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


async def echo(portal: ServedPortal, pid: str, value: Any) -> CallToolResult:
    async with client(portal, pid) as session:
        return await session.call_tool(ECHO, {"value": value})


async def run_code(portal: ServedPortal, pid: str, code: str) -> dict[str, Any]:
    async with client(portal, pid, "?codemode=search_and_execute") as session:
        result = await session.call_tool("code", {"code": code})
    payload: dict[str, Any] = json.loads(text(result))
    return payload


def issue_with(secret: str) -> dict[str, Any]:
    return {"issue": {"title": "Deploy fails", "body": f"CI uses {secret} since Monday"}}


async def test_block_refuses_a_direct_call_naming_profile_and_path(portal: ServedPortal) -> None:
    result = await echo(portal, "blocks", issue_with(GITHUB_TOKEN))
    assert result.is_error
    message = text(result)
    assert "credentials_and_secrets" in message and "value.issue.body" in message
    assert GITHUB_TOKEN not in message and GITHUB_TOKEN[4:] not in message


async def test_block_rejects_the_call_inside_code(portal: ServedPortal) -> None:
    code = f"""
    try {{
      await codemode.demo_echo({{value: {json.dumps(issue_with(TEST_CARD))}}});
      return "sent";
    }} catch (e) {{
      return e.message;
    }}"""
    payload = await run_code(portal, "blocks", code)
    assert "financial_information at value.issue.body" in payload["result"]
    assert TEST_CARD not in json.dumps(payload)


async def test_redact_sends_the_upstream_redacted_text(portal: ServedPortal) -> None:
    result = await echo(portal, "redacts", issue_with(GITHUB_TOKEN))
    assert not result.is_error
    received = result.structured_content
    assert received == {
        "value": issue_with("[REDACTED:credentials_and_secrets]"),
    }


async def test_redact_inside_code(portal: ServedPortal) -> None:
    code = f"""
    const got = await codemode.demo_echo({{value: {{card: "{TEST_CARD}", note: "ok"}}}});
    return got;"""
    payload = await run_code(portal, "redacts", code)
    assert payload["result"] == {
        "value": {"card": "[REDACTED:financial_information]", "note": "ok"}
    }


async def test_log_sends_as_is_and_records_where(portal: ServedPortal) -> None:
    result = await echo(portal, "logs", issue_with(GITHUB_TOKEN))
    assert not result.is_error
    assert result.structured_content == {"value": issue_with(GITHUB_TOKEN)}
    assert portal.gateway is not None
    (entry,) = portal.gateway.request_log.query(portal="logs", limit=1)
    assert [(d.profile, d.path, d.action) for d in entry.dlp] == [
        ("credentials_and_secrets", "value.issue.body", "log")
    ]


async def test_custom_profile_blocks_patterns_and_keywords(portal: ServedPortal) -> None:
    for value in ("status of PROJ-1234?", "the bluebird launch"):
        result = await echo(portal, "custom", {"q": value})
        assert result.is_error and "project_names at value.q" in text(result)
    result = await echo(portal, "custom", {"q": "PROJ-12 and bluebirds"})
    assert not result.is_error


async def test_results_are_redacted_on_the_way_back(portal: ServedPortal) -> None:
    # The echo sends the (redacted) arguments back; a result carrying a secret of its own
    # comes from the upstream's `fail` text, which repeats what it was given: it is redacted
    # on the way out and again on the way back.
    async with client(portal, "results") as session:
        result = await session.call_tool("demo_fail", {"reason": f"token {GITHUB_TOKEN}"})
    assert result.is_error
    assert GITHUB_TOKEN not in text(result)
    assert "[REDACTED:credentials_and_secrets]" in text(result)


async def test_a_result_can_be_blocked(portal: ServedPortal) -> None:
    # `fail` answers "failed on purpose: <reason>": the words are only in the result.
    async with client(portal, "resultblock") as session:
        result = await session.call_tool("demo_fail", {"reason": "test"})
    assert result.is_error
    assert text(result) == "the result blocked by DLP: on_purpose at result.content[0].text"
    payload = await run_code(
        portal,
        "resultblock",
        'try { await codemode.demo_fail({reason: "x"}); } catch (e) { return e.message; }',
    )
    assert payload["result"] == "the result blocked by DLP: on_purpose at result.content[0].text"


async def test_no_secret_in_request_log_or_log_records(
    portal: ServedPortal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for pid in ("blocks", "redacts", "logs"):
        await echo(portal, pid, issue_with(GITHUB_TOKEN))
    assert portal.gateway is not None
    log = portal.gateway.request_log
    await eventually(lambda: log.count() >= 3, "the calls are in the request log")
    log.flush()
    settings = portal.config.settings
    assert settings.request_log_path is not None and settings.request_log_jsonl_path is not None
    files = [
        *Path(settings.request_log_path).parent.glob("requests.sqlite3*"),  # with its WAL
        Path(settings.request_log_jsonl_path),
    ]
    data = b"".join(f.read_bytes() for f in files)
    assert b"credentials_and_secrets" in data and b"value.issue.body" in data
    assert GITHUB_TOKEN.encode() not in data and GITHUB_TOKEN[4:].encode() not in data
    # Every record at INFO and above, and the portal's own at every level. (The mcp SDK's
    # DEBUG lines repeat whole messages: the test client's, and what a `log` portal sends.)
    ours = [
        r
        for r in caplog.records
        if r.levelno >= logging.INFO or r.name.startswith(("engine", "codemode", "uvicorn"))
    ]
    assert ours and not [r for r in ours if GITHUB_TOKEN[4:] in r.getMessage()]
    blocked = [r for r in log.query(portal="blocks", limit=100) if r.dlp]
    assert blocked and all(r.status == "error" for r in blocked)
    assert all(GITHUB_TOKEN not in (r.error or "") for r in blocked)
