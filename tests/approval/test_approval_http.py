"""Human approval of a `require_approval` tool through a running portal, with real `mcp` SDK
clients answering in both protocol eras (2025-11-25 `elicitation/create`; 2026-07-28
`InputRequiredResult` retried by the client), the demo upstream's `echo` counting what it
really received, and the request log naming the person."""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from engine.requestlog import RequestRecord
from tests.approval.conftest import APPROVAL_TIMEOUT_S, connect, echo_calls
from tests.server.conftest import ServedPortal, eventually

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]  # 2025-11-25 sessions; 2026-07-28 requests
ANA, BOB = "ana@example.com", "bob@example.com"
_ALNUM = string.ascii_letters + string.digits
GITHUB_TOKEN = "ghp_" + "".join(secrets.choice(_ALNUM) for _ in range(36))
"""Made up at run time: shaped like a GitHub token, valid nowhere."""


class Person:
    """An elicitation callback: records each question and gives the set answer."""

    def __init__(self, action: str = "accept", approve: bool = True, delay_s: float = 0) -> None:
        self.action, self.approve, self.delay_s = action, approve, delay_s
        self.asked: list[types.ElicitRequestParams] = []

    async def __call__(self, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked.append(params)
        if self.delay_s:
            await anyio.sleep(self.delay_s)
        content = {"approve": self.approve} if self.action == "accept" else None
        return types.ElicitResult(action=self.action, content=content)  # type: ignore[arg-type]


def text(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


def approvals(served: ServedPortal) -> list[RequestRecord]:
    assert served.gateway is not None
    log = served.gateway.request_log
    log.flush()
    return [r for r in log.query(portal="team", limit=1000) if r.kind == "approval"]


@pytest.mark.parametrize("mode", ERAS)
async def test_approved_call_reaches_the_upstream(
    served: ServedPortal, tokens: dict[str, str], mode: str
) -> None:
    before = await echo_calls(served, tokens[ANA])
    person = Person()
    value = {"title": "Deploy", "body": f"CI uses {GITHUB_TOKEN}"}
    async with connect(served, tokens[ANA], mode, person) as client:
        result = await client.call_tool("demo_echo", {"value": value})
    assert not result.is_error, text(result)
    assert result.structured_content == {"value": value}  # DLP `log`: sent as given
    assert await echo_calls(served, tokens[ANA]) == before + 1
    (asked,) = person.asked
    assert isinstance(asked, types.ElicitRequestFormParams)
    assert "demo_echo" in asked.message and "Deploy" in asked.message
    # The question never shows what DLP catches, whatever the profile's action.
    assert GITHUB_TOKEN not in asked.message and GITHUB_TOKEN[4:] not in asked.message
    assert "[REDACTED:credentials_and_secrets]" in asked.message
    assert asked.requested_schema["properties"]["approve"]["type"] == "boolean"
    last = approvals(served)[0]
    assert (last.status, last.user, last.capability) == ("ok", ANA, "demo_echo")


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize(("action", "approve"), [("decline", False), ("accept", False)])
async def test_declined_call_never_leaves(
    served: ServedPortal, tokens: dict[str, str], mode: str, action: str, approve: bool
) -> None:
    before = await echo_calls(served, tokens[ANA])
    async with connect(served, tokens[ANA], mode, Person(action, approve)) as client:
        result = await client.call_tool("demo_echo", {"value": "drop the table"})
    assert result.is_error
    assert "the person declined the call of demo_echo" in text(result)
    assert await echo_calls(served, tokens[ANA]) == before
    last = approvals(served)[0]
    assert (last.status, last.user) == ("error", ANA)
    assert last.error is not None and "declined" in last.error


async def test_cancel_is_a_refusal_too(served: ServedPortal, tokens: dict[str, str]) -> None:
    async with connect(served, tokens[ANA], "legacy", Person("cancel")) as client:
        result = await client.call_tool("demo_echo", {"value": 1})
    assert result.is_error and "the person cancelled the call of demo_echo" in text(result)


@pytest.mark.parametrize("mode", ERAS)
async def test_a_client_that_cannot_elicit_gets_a_clear_error(
    served: ServedPortal, tokens: dict[str, str], mode: str
) -> None:
    before = await echo_calls(served, tokens[ANA])
    async with connect(served, tokens[ANA], mode, None) as client:
        result = await client.call_tool("demo_echo", {"value": 1})
        other = await client.call_tool("demo_fail", {"reason": "x"})  # needs no approval
    assert result.is_error
    assert "needs a person's approval" in text(result)
    assert "no form elicitation capability" in text(result)
    assert await echo_calls(served, tokens[ANA]) == before
    assert "failed on purpose" in text(other)


async def test_no_answer_in_time_is_a_refusal(served: ServedPortal, tokens: dict[str, str]) -> None:
    before = await echo_calls(served, tokens[ANA])
    slow = Person(delay_s=APPROVAL_TIMEOUT_S * 3)
    async with connect(served, tokens[ANA], "legacy", slow) as client:
        result = await client.call_tool("demo_echo", {"value": 1})
    assert result.is_error
    assert f"within {APPROVAL_TIMEOUT_S:g} s" in text(result)
    assert await echo_calls(served, tokens[ANA]) == before


async def test_inside_code_on_2025_the_call_waits_for_the_answer(
    served: ServedPortal, tokens: dict[str, str]
) -> None:
    before = await echo_calls(served, tokens[ANA])
    person = Person()
    code = """
    const got = await codemode.demo_echo({value: "from code"});
    return got.value;"""
    query = "?codemode=search_and_execute"
    async with connect(served, tokens[ANA], "legacy", person, query) as client:
        result = await client.call_tool("code", {"code": code})
    payload = json.loads(text(result))
    assert payload["result"] == "from code"
    assert len(person.asked) == 1
    assert await echo_calls(served, tokens[ANA]) == before + 1


async def test_inside_code_on_2025_a_refusal_is_an_error_the_code_sees(
    served: ServedPortal, tokens: dict[str, str]
) -> None:
    code = """
    try { await codemode.demo_echo({value: 1}); return "sent"; }
    catch (e) { return e.message; }"""
    query = "?codemode=search_and_execute"
    async with connect(served, tokens[ANA], "legacy", Person("decline"), query) as client:
        result = await client.call_tool("code", {"code": code})
    assert "the person declined the call of demo_echo" in json.loads(text(result))["result"]


async def test_inside_code_on_2026_the_run_asks_then_runs_again(
    served: ServedPortal, tokens: dict[str, str]
) -> None:
    before = await echo_calls(served, tokens[ANA])
    person = Person()
    # Two approvals in one run: each stops the run once; the third run has both answers.
    code = """
    const a = await codemode.demo_echo({value: "first"});
    const b = await codemode.demo_echo({value: "second"});
    return [a.value, b.value];"""
    query = "?codemode=search_and_execute"
    async with connect(served, tokens[ANA], "auto", person, query) as client:
        assert client.protocol_version == "2026-07-28"
        result = await client.call_tool("code", {"code": code})
    assert json.loads(text(result))["result"] == ["first", "second"]
    assert len(person.asked) == 2
    assert "first" in person.asked[0].message and "second" in person.asked[1].message
    # Run 1 stops at "first" (nothing sent); run 2 sends "first" and stops at "second";
    # run 3 sends both: the retry repeats the calls made before the one asked about.
    assert await echo_calls(served, tokens[ANA]) == before + 3


async def _first_round(
    client: Any, value: Any
) -> tuple[types.InputRequiredResult, types.InputResponses]:
    first = await client.session.call_tool("demo_echo", {"value": value}, allow_input_required=True)
    assert isinstance(first, types.InputRequiredResult), first
    assert first.input_requests is not None and set(first.input_requests) == {"approve"}
    answer = types.ElicitResult(action="accept", content={"approve": True})
    return first, {"approve": answer}


async def test_an_answer_is_used_once(served: ServedPortal, tokens: dict[str, str]) -> None:
    before = await echo_calls(served, tokens[ANA])
    async with connect(served, tokens[ANA], "auto", Person()) as client:
        first, answers = await _first_round(client, "once")
        retry: dict[str, Any] = {"input_responses": answers, "request_state": first.request_state}
        done = await client.session.call_tool("demo_echo", {"value": "once"}, **retry)
        again = await client.session.call_tool("demo_echo", {"value": "once"}, **retry)
    assert not done.is_error and done.structured_content == {"value": "once"}
    assert again.is_error and "already answered" in text(again)
    assert await echo_calls(served, tokens[ANA]) == before + 1
    last = approvals(served)[0]
    assert last.status == "error" and last.user == ANA


async def test_another_persons_answer_is_refused(
    served: ServedPortal, tokens: dict[str, str]
) -> None:
    before = await echo_calls(served, tokens[ANA])
    async with connect(served, tokens[ANA], "auto", Person()) as ana:
        first, answers = await _first_round(ana, "ana's call")
    async with connect(served, tokens[BOB], "auto", Person()) as bob:
        with pytest.raises(MCPError, match="Invalid or expired requestState"):
            await bob.session.call_tool(
                "demo_echo",
                {"value": "ana's call"},
                input_responses=answers,
                request_state=first.request_state,
            )
    assert await echo_calls(served, tokens[ANA]) == before


async def test_the_request_log_names_who_answered(
    served: ServedPortal, tokens: dict[str, str]
) -> None:
    async with connect(served, tokens[BOB], "legacy", Person()) as client:
        await client.call_tool("demo_echo", {"value": "bob's"})
    async with connect(served, tokens[BOB], "legacy", Person("decline")) as client:
        await client.call_tool("demo_echo", {"value": "bob's"})

    def both() -> bool:
        rows = [r for r in approvals(served) if r.user == BOB]
        return {r.status for r in rows} >= {"ok", "error"}

    await eventually(both, "bob's approval and refusal are in the request log")


async def test_on_2026_an_answer_after_the_timeout_is_a_refusal(
    served: ServedPortal, tokens: dict[str, str]
) -> None:
    before = await echo_calls(served, tokens[ANA])
    async with connect(served, tokens[ANA], "auto", Person()) as client:
        first, answers = await _first_round(client, "late")
        await anyio.sleep(APPROVAL_TIMEOUT_S * 1.5)  # the person answers too late
        late = await client.session.call_tool(
            "demo_echo",
            {"value": "late"},
            input_responses=answers,
            request_state=first.request_state,
        )
    assert late.is_error and f"within {APPROVAL_TIMEOUT_S:g} s" in text(late)
    assert await echo_calls(served, tokens[ANA]) == before


async def test_arguments_dlp_cannot_check_are_not_shown(
    served: ServedPortal, tokens: dict[str, str]
) -> None:
    # Nested deeper than DLP scans: the `log` profile lets the call go ("unscanned"), but
    # the question must not show text no profile has looked at.
    deep: Any = [f"CI uses {GITHUB_TOKEN}"]
    for _ in range(70):
        deep = [deep]
    person = Person()
    async with connect(served, tokens[ANA], "legacy", person) as client:
        result = await client.call_tool("demo_echo", {"value": deep})
    assert not result.is_error, text(result)
    (asked,) = person.asked
    assert GITHUB_TOKEN[4:] not in asked.message
    assert "not shown: too large or too deep for DLP to check" in asked.message


async def test_inside_code_on_2026_a_refusal_reaches_the_code_once(
    served: ServedPortal, tokens: dict[str, str]
) -> None:
    before = await echo_calls(served, tokens[ANA])
    person = Person("decline")
    code = """
    try { await codemode.demo_echo({value: "no"}); return "sent"; }
    catch (e) { return e.message; }"""
    query = "?codemode=search_and_execute"
    async with connect(served, tokens[ANA], "auto", person, query) as client:
        result = await client.call_tool("code", {"code": code})
    assert "the person declined the call of demo_echo" in json.loads(text(result))["result"]
    assert len(person.asked) == 1  # the second run uses the answer, it does not ask again
    assert await echo_calls(served, tokens[ANA]) == before
