"""URL elicitation answered in a real browser, both eras: an `mcp` SDK client calls `whoami`
of an `on_behalf` server the person has not connected; its elicitation handler (a 2025-11-25
`elicitation/create` in url mode, or the URL request of a 2026-07-28 `InputRequiredResult`)
opens the URL it was given in headless chromium (playwright-core), where the person signs in
with the portal's dev sign-in, presses Connect on the connections page, goes on to the
upstream's authorization server (npm oidc-provider, `as.mjs`) and back to the portal's
callback page; then the call the client made answers with that person's subject.

The stack is `test_person_credentials`'s (its fixture and client, imported); the people here
are not used there, as that module caches portal tokens by email."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import anyio
import pytest

from tests.identity.harness import Browser, brief
from tests.upstream_oauth.test_person_credentials import (
    Stack,
    _eliciting_whoami,
    stack,
)
from tests.upstream_oauth.test_person_credentials import (
    test_the_admin_credential_syncs_the_catalog as sync_catalog,
)

__all__ = ["stack"]  # the imported module fixture: a stack of this module's own


@pytest.fixture(scope="module")
def chromium(stack: Stack) -> Iterator[Browser]:
    sync_catalog(stack)  # the admin credential lists the server's tools first
    browser = Browser(stack.logs / "chromium")
    try:
        yield browser
    finally:
        browser.close()


def open_in_chromium(stack: Stack, browser: Browser, email: str, url: str) -> None:
    """The person opens the elicited URL and connects the server there."""
    report = browser.run(
        mode="connect",
        url=url,
        portal=stack.portal.origin,
        account=email,
        server="prot",
        hint={"origin": stack.up.issuer, "value": email.split("@")[0]},
    )
    seen = [page["what"] for page in report["pages"]]
    assert seen == ["start", "after-dev-sign-in", "after-connect", "after-continue"], brief(report)
    assert report["final"].startswith(f"{stack.portal.origin}/oauth/upstream/callback")
    assert "'prot' is connected" in report["pages"][-1]["text"], brief(report)


def _connections(stack: Stack) -> str:
    return f"{stack.portal.origin}/connections?portal=main&server=prot"


def test_a_2025_client_opens_the_elicited_url_in_chromium(stack: Stack, chromium: Browser) -> None:
    opener = partial(open_in_chromium, stack, chromium)
    answer = anyio.run(_eliciting_whoami, stack, "ivy@example.com", True, "legacy", opener)
    assert answer == (False, "ivy", [f"elicit {_connections(stack)}", "complete"]), answer
    assert stack.held("ivy@example.com") is not None


def test_a_2026_client_opens_the_input_required_url_in_chromium(
    stack: Stack, chromium: Browser
) -> None:
    opener = partial(open_in_chromium, stack, chromium)
    answer = anyio.run(_eliciting_whoami, stack, "jon@example.com", True, "auto", opener)
    assert answer == (False, "jon", [f"elicit {_connections(stack)}"]), answer
    assert stack.held("jon@example.com") is not None
