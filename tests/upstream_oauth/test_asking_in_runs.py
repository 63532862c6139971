"""Asking a person to connect an `on_behalf` server from inside a `code` run, and the `-32042`
URL-elicitation-required error of a request that cannot wait, on real parts: portals
(`codemode serve` subprocesses) with `[identity] provider = "dev"`, the test MCP server
behind a real authorization server (npm oidc-provider), `mcp` SDK clients of both eras, and
each person's browser (an HTTP client keeping their cookies, `Browser`).

Two portals share the upstream: `roomy` with the default 30 s run limit (a 2025-era run
waits for the elicitation; a 2026-era run ends in an InputRequiredResult and runs again) and
`hurried` with a 5 s limit, too short to wait for a person (the `code` call answers -32042,
and the retry after connecting succeeds)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import anyio
import anyio.to_thread
import httpx2
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError, UrlElicitationRequiredError

from tests.identity.harness import missing_tools, start_portal
from tests.identity_flow.devflow import connect_client
from tests.upstream_oauth.harness import admin_authorizes, person_portal_toml, protected_upstream
from tests.upstream_oauth.test_person_credentials import Browser, Stack
from tests.upstreams.harness import free_port

ADMIN = "admin-" + secrets.token_urlsafe(24)
WHOAMI = "return (await codemode.prot_whoami({})).result;"
"""The subject the upstream saw (its structured result)."""


def _config(logs: Path, url: str, run_s: float) -> str:
    return person_portal_toml(logs, url, settings=f"[settings.sandbox]\ntimeout_s = {run_s}")


@dataclass
class Stacks:
    roomy: Stack
    hurried: Stack


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stacks]:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    logs = tmp_path_factory.mktemp("asking-in-runs")
    with protected_upstream(logs, account="alice") as up:
        built: list[Stack] = []
        try:
            for name, run_s in (("roomy", 30.0), ("hurried", 5.0)):
                here = logs / name
                here.mkdir()
                config = _config(here, up.url, run_s)
                portal = start_portal(here, free_port(), config, {"CODEMODE_ADMIN_TOKEN": ADMIN})
                built.append(Stack(up, portal, here))
                admin_authorizes(built[-1].portal.origin, ADMIN)
            yield Stacks(*built)
        finally:
            for stack in built:
                stack.portal.process.stop()


def _page(stack: Stack) -> str:
    return f"{stack.portal.origin}/connections?portal=main&server=prot"


def _connect_in_browser(stack: Stack, email: str) -> None:
    browser = Browser(stack, email)
    browser.sign_in()
    assert browser.connect().status_code == 200


@dataclass
class Run:
    is_error: bool
    text: str
    seen: list[str]


async def _run_code(stack: Stack, email: str, code: str, *, mode: str, accept: bool | None) -> Run:
    """`code` as `email` from a client of era `mode` (`legacy`: 2025-11-25, `auto`:
    2026-07-28) that answers URL elicitation by connecting in the person's browser (`accept`)
    or declining; `accept=None`: a client without the elicitation capability."""
    seen: list[str] = []

    async def elicited(_ctx: object, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestURLParams)
        seen.append(f"elicit {params.url}")
        if not accept:
            return types.ElicitResult(action="decline")
        await anyio.to_thread.run_sync(_connect_in_browser, stack, email)
        return types.ElicitResult(action="accept")

    async def messages(message: object) -> None:
        if isinstance(message, types.ElicitCompleteNotification):
            seen.append("complete")

    bearer = _run_token(stack, email)
    headers = {"Authorization": f"Bearer {bearer}"}
    url = stack.mcp + "?codemode=search_and_execute"
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode=mode,
            elicitation_callback=elicited if accept is not None else None,
            message_handler=messages,
        ) as client,
    ):
        result = await client.call_tool("code", {"code": code})
    return Run(bool(result.is_error), _value(result), seen)


def _value(result: types.CallToolResult) -> str:
    """The run's returned value (a string here), or the error text of a failed run."""
    text = "".join(c.text for c in result.content if isinstance(c, types.TextContent))
    return text if result.is_error else str(json.loads(text)["result"])


TOKENS: dict[tuple[int, str], str] = {}
"""(portal port, email) -> portal access token."""


def _run_token(stack: Stack, email: str) -> str:
    key = (stack.portal.port, email)
    if key not in TOKENS:
        raise AssertionError("call _token first (outside the event loop)")
    return TOKENS[key]


def _token(stack: Stack, email: str) -> str:
    key = (stack.portal.port, email)
    if key not in TOKENS:
        connect = partial(connect_client, stack.portal.origin, email, portal="/p/main")
        TOKENS[key] = anyio.run(connect).access_token
    return TOKENS[key]


def run(stack: Stack, email: str, code: str, *, mode: str, accept: bool | None) -> Run:
    _token(stack, email)
    return anyio.run(partial(_run_code, stack, email, code, mode=mode, accept=accept))


# ----- the tests -----


def test_without_url_elicitation_the_run_result_carries_the_url(stacks: Stacks) -> None:
    found = run(stacks.roomy, "ann@example.com", WHOAMI, mode="legacy", accept=None)
    assert found.is_error and _page(stacks.roomy) in found.text, found
    assert "you have not connected it yet" in found.text and found.seen == []


def test_a_2025_run_waits_for_the_url_elicitation_and_the_call_goes_on(stacks: Stacks) -> None:
    page = _page(stacks.roomy)
    # Declined: the call rejects with the URL, and the run is not asked again about it.
    twice = "try { await codemode.prot_whoami({}); } catch (e) {} " + WHOAMI
    declined = run(stacks.roomy, "dee@example.com", twice, mode="legacy", accept=False)
    assert declined.is_error and page in declined.text, declined
    assert declined.seen == [f"elicit {page}"]
    found = run(stacks.roomy, "eli@example.com", WHOAMI, mode="legacy", accept=True)
    assert (found.is_error, found.text) == (False, "eli"), found
    assert found.seen == [f"elicit {page}", "complete"]


def test_a_2026_run_stops_asks_in_an_input_required_round_and_runs_again(
    stacks: Stacks,
) -> None:
    page = _page(stacks.roomy)
    # Two calls: the first stops the run (the second is refused, unseen), the retry runs both.
    code = "const a = await codemode.prot_whoami({}); const b = await codemode.prot_whoami({});"
    code += " return a.result + ',' + b.result;"
    found = run(stacks.roomy, "gil@example.com", code, mode="auto", accept=True)
    assert (found.is_error, found.text, found.seen) == (False, "gil,gil", [f"elicit {page}"])
    # Declined: the retry is not asked again; the call rejects and the run result has the URL.
    declined = run(stacks.roomy, "hap@example.com", code, mode="auto", accept=False)
    assert declined.is_error and page in declined.text, declined
    assert declined.seen == [f"elicit {page}"]


async def _code_raising(stack: Stack, email: str, code: str) -> MCPError | str:
    async def never(_ctx: object, params: types.ElicitRequestParams) -> types.ElicitResult:
        raise AssertionError("a run that cannot wait must not send elicitation/create")

    headers = {"Authorization": f"Bearer {_run_token(stack, email)}"}
    url = stack.mcp + "?codemode=search_and_execute"
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(
            streamable_http_client(url, http_client=http), mode="legacy", elicitation_callback=never
        ) as client,
    ):
        try:
            result = await client.call_tool("code", {"code": code})
        except MCPError as exc:
            return exc
    return _value(result)


def test_a_2025_run_too_short_to_wait_answers_url_elicitation_required(stacks: Stacks) -> None:
    stack, email = stacks.hurried, "ivy@example.com"
    _token(stack, email)
    answer = anyio.run(partial(_code_raising, stack, email, WHOAMI))
    assert isinstance(answer, MCPError) and answer.code == types.URL_ELICITATION_REQUIRED
    [asked] = UrlElicitationRequiredError.from_error(answer.error).elicitations
    assert asked.url == _page(stack) and len(asked.elicitation_id) >= 24, asked
    _connect_in_browser(stack, email)  # the person opens the URL; the client asks again
    assert anyio.run(partial(_code_raising, stack, email, WHOAMI)) == "ivy"
    assert stack.held(email) is not None


def test_no_token_in_output_request_log_or_database(stacks: Stacks) -> None:
    stacks.roomy.held("eli@example.com")
    stacks.roomy.held("gil@example.com")
    for stack in (stacks.roomy, stacks.hurried):
        seen = stacks.roomy.tokens_seen | stacks.hurried.tokens_seen
        assert seen
        text = stack.portal.process.output().encode()
        for path in (stack.logs / "codemode.db", stack.logs / "requests.db"):
            if path.exists():
                text += path.read_bytes()
        for token in seen:
            assert token.encode() not in text
