"""Access policies decided over the real IdP's claims (email from userinfo, groups from the
`groups` scope): who enters which portal, who sees which server, in `tools/list` and inside
`code`. The people and policies are in conftest.py."""

from __future__ import annotations

import json

import pytest

from engine.auth import NO_ALLOWED_SERVERS
from tests.identity.conftest import CI_KEY, NO_ACCESS_MESSAGE, Stack
from tests.identity.flows import CODE, authorize, page_texts, run_code, tool_names
from tests.identity.harness import brief

pytestmark = pytest.mark.anyio


def assert_kept_out(stack: Stack, account: str, portal_id: str) -> None:
    """The person sees the "no access" page with the configured message; the client gets no
    code (its redirect, if any, carries error=access_denied)."""
    done = authorize(stack, account, portal_id)
    seen = page_texts(done.report)
    assert NO_ACCESS_MESSAGE in seen, brief(done.report)
    assert not done.report.get("consentPage"), "a consent page was shown to someone kept out"
    if done.report.get("callback"):
        params = done.params
        assert params.get("error") == "access_denied" and "code" not in params, params


async def test_allowed_with_the_group_sees_every_server(flow: Stack) -> None:
    token = authorize(flow, "ana@example.com").tokens()["access_token"]
    names = await tool_names(flow.portal.mcp_url("team"), token)
    assert {"time_get_current_time", "demo_echo"} <= names, names


def test_excluded_person_is_kept_out(flow: Stack) -> None:
    assert_kept_out(flow, "mallory@example.com", "team")


def test_blocked_person_is_kept_out_though_an_allow_matches(flow: Stack) -> None:
    assert_kept_out(flow, "eve@example.com", "team")


def test_no_matching_allow_keeps_a_person_out(flow: Stack) -> None:
    assert_kept_out(flow, "zoe@elsewhere.test", "team")


def test_required_group_missing_keeps_a_person_out(flow: Stack) -> None:
    # bob is example.com staff but not in engineering, which the eng portal requires.
    assert_kept_out(flow, "bob@example.com", "eng")


def test_required_group_present_lets_a_person_in(flow: Stack) -> None:
    assert authorize(flow, "ana@example.com", "eng").tokens()["access_token"]


async def test_allowed_into_the_portal_but_no_server(flow: Stack) -> None:
    done = authorize(flow, "carl@partner.test", "team")
    seen = page_texts(done.report)
    assert NO_ALLOWED_SERVERS in seen, brief(done.report)
    # The policy ids that would apply are named with the error.
    assert "contractors" in seen and "staff" in seen, seen
    if done.report.get("consentPage") and "code" in done.params:
        # If the page still let them consent, every call answers the same error.
        token = done.tokens()["access_token"]
        failed, text = await run_code(flow.portal.mcp_url("team", CODE), token, "return 1")
        assert failed and NO_ALLOWED_SERVERS in text, text


async def test_a_server_hidden_from_one_person_is_visible_to_another(flow: Stack) -> None:
    url = flow.portal.mcp_url("team")
    ana = authorize(flow, "ana@example.com").tokens()["access_token"]
    bob = authorize(flow, "bob@example.com").tokens()["access_token"]
    ana_names, bob_names = await tool_names(url, ana), await tool_names(url, bob)
    assert "demo_echo" in ana_names and "time_get_current_time" in ana_names
    assert "time_get_current_time" in bob_names
    assert not any(n.startswith("demo_") for n in bob_names), bob_names

    probe = """
    const found = await codemode.search("echo the message back");
    return { echo: "demo_echo" in codemode, time: "time_get_current_time" in codemode,
             keys: Object.keys(codemode).filter((k) => k.startsWith("demo_")).length,
             found: JSON.stringify(found) };
    """
    code_url = flow.portal.mcp_url("team", CODE)
    failed, ana_text = await run_code(code_url, ana, probe)
    assert not failed, ana_text
    ana_seen = json.loads(ana_text)["result"]
    assert ana_seen["echo"] is True and ana_seen["keys"] > 0, ana_seen
    assert "demo_echo" in ana_seen["found"], ana_seen
    failed, bob_text = await run_code(code_url, bob, probe)
    assert not failed, bob_text
    bob_seen = json.loads(bob_text)["result"]
    assert bob_seen["time"] is True, bob_seen
    assert bob_seen["echo"] is False and bob_seen["keys"] == 0, bob_seen
    assert "demo_echo" not in bob_seen["found"], bob_seen
    # Calling it anyway: no such tool for bob.
    failed, text = await run_code(code_url, bob, "return await codemode.demo_echo({})")
    assert failed and "demo_echo" in text, text


async def test_a_service_key_is_matched_by_name(stack: Stack) -> None:
    names = await tool_names(stack.portal.mcp_url("team"), CI_KEY)
    assert "time_get_current_time" in names
    assert not any(n.startswith("demo_") for n in names), names
