"""`mcp-remote` (npm, the stdio bridge many desktop MCP clients use) signs in to the portal with
its browser step scripted, then bridges the portal's tools over stdio.

mcp-remote runs as it would on a person's machine, with only its surroundings faked:
- HOME is a temp dir, so its token cache (`~/.mcp-auth`) starts empty and is this test's own;
- its browser opener is ours: on Linux it calls the `open` package, which runs the `xdg-open`
  script bundled with `open` (not the one on PATH); that script, finding no desktop, hands the
  URL to `$BROWSER`. `$BROWSER` and every opener name it or mcp-remote's fallbacks look up on
  PATH (`xdg-open`, `www-browser`, ...) are one script that writes the URL to a file;
- the test reads that URL and drives `signin_browser.mjs` with it (IdP login, the portal's
  consent page) without stopping at the client's redirect, so chromium really reaches
  mcp-remote's own callback server on loopback, which then exchanges the code.

Then the `mcp` SDK's stdio client speaks MCP to mcp-remote's stdin/stdout: `tools/list`
answers with the portal's tools, a second mcp-remote on the code-mode surface runs `code`
(the IdP is not asked again: the portal's browser session is reused, only consent is shown),
and a third on the first URL starts from its token cache without opening the browser.
"""

from __future__ import annotations

import os
import shlex
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.identity.conftest import Stack
from tests.identity.flows import CODE, discover, text_of
from tests.identity.harness import brief, node, query_of
from tests.upstreams.harness import REPO, free_port

pytestmark = pytest.mark.anyio

MCP_REMOTE = REPO / "node_modules" / "mcp-remote" / "dist" / "proxy.js"
PERSON = "ana@example.com"  # engineering: sees time and demo in the team portal
WAIT_FOR_BROWSER_S = 60.0  # mcp-remote: start, 401, discovery, registration, open the browser
RUN_TIMEOUT_S = 180.0  # one mcp-remote session, sign-in included
AUTH_TIMEOUT_S = 120  # mcp-remote's own wait for its callback (its default is 30 s)
# Variables through which a desktop would pick another opener than ours.
DESKTOP_VARS = (
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XDG_CURRENT_DESKTOP",
    "DESKTOP_SESSION",
    "KDE_FULL_SESSION",
    "GNOME_DESKTOP_SESSION_ID",
    "MATE_DESKTOP_SESSION_ID",
    "BROWSER",
    "MCP_REMOTE_CONFIG_DIR",
)
OPENER_NAMES = ("xdg-open", "www-browser", "x-www-browser", "sensible-browser", "gio")


@dataclass
class Machine:
    """A person's machine for mcp-remote: a home, a browser opener, a cookie jar."""

    root: Path
    home: Path = field(init=False)
    bin: Path = field(init=False)
    urls: Path = field(init=False)
    cookies: Path = field(init=False)

    def __post_init__(self) -> None:
        self.home = self.root / "home"
        self.bin = self.root / "bin"
        self.urls = self.root / "opened-urls.txt"
        self.cookies = self.root / "browser-cookies.json"
        self.home.mkdir(parents=True)
        self.bin.mkdir()
        # The last argument is the URL (`gio open URL` has two).
        script = (
            "#!/bin/sh\n"
            'for arg in "$@"; do url="$arg"; done\n'
            f"printf '%s\\n' \"$url\" >> {shlex.quote(str(self.urls))}\n"
        )
        for name in OPENER_NAMES:
            path = self.bin / name
            path.write_text(script)
            path.chmod(0o755)

    def opened(self) -> list[str]:
        if not self.urls.exists():
            return []
        return [line for line in self.urls.read_text().splitlines() if line]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in DESKTOP_VARS}
        env["HOME"] = str(self.home)
        env["PATH"] = f"{self.bin}:{Path(node()).parent}:{env.get('PATH', '')}"
        env["BROWSER"] = str(self.bin / "www-browser")
        return env


@dataclass
class Bridge:
    """One mcp-remote process (a session leader: its pid is its process group)."""

    machine: Machine
    url: str
    callback_port: int
    logs: Path
    pid_file: Path = field(init=False)
    stderr: Path = field(init=False)

    def __post_init__(self) -> None:
        n = len(list(self.logs.glob("mcp-remote-*.err")))
        self.pid_file = self.logs / f"mcp-remote-{n}.pid"
        self.stderr = self.logs / f"mcp-remote-{n}.err"

    @property
    def redirect_uri(self) -> str:
        return f"http://localhost:{self.callback_port}/oauth/callback"

    def params(self) -> StdioServerParameters:
        argv = [
            node(),
            str(MCP_REMOTE),
            self.url,
            str(self.callback_port),
            "--auth-timeout",
            str(AUTH_TIMEOUT_S),
        ]
        # A shell that records its pid, then becomes mcp-remote (same pid, same group).
        return StdioServerParameters(
            command="/bin/sh",
            args=["-c", 'echo $$ > "$0"; exec "$@"', str(self.pid_file), *argv],
            env=self.machine.env(),
            cwd=self.machine.home,
        )

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")[-4000:] if self.stderr.exists() else ""

    def kill_group(self) -> None:
        if not self.pid_file.exists():
            return
        pid = int(self.pid_file.read_text().strip())
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


@asynccontextmanager
async def bridged(bridge: Bridge) -> AsyncIterator[Client]:
    """An MCP client on mcp-remote's stdio; the process group is killed on the way out."""
    try:
        with bridge.stderr.open("w") as errlog:
            params = bridge.params()
            # Client(StdioServerParameters) has no errlog: keep mcp-remote's stderr in a file.
            async with Client(stdio_client(params, errlog=errlog), mode="auto") as client:
                yield client
    finally:
        bridge.kill_group()


async def sign_in_when_asked(stack: Stack, machine: Machine, seen: int) -> dict[str, Any]:
    """Wait for mcp-remote to open a new URL, then be the person at the browser with it."""
    deadline = time.monotonic() + WAIT_FOR_BROWSER_S
    while len(machine.opened()) <= seen:
        if time.monotonic() > deadline:
            raise TimeoutError(f"mcp-remote opened no browser within {WAIT_FOR_BROWSER_S} s")
        await anyio.sleep(0.1)
    url = machine.opened()[seen]

    def run() -> dict[str, Any]:
        return stack.browser.run(
            url=url,
            idp=stack.idp.issuer,
            portal=stack.portal.origin,
            account=PERSON,
            consent="allow",
            state=str(machine.cookies),
        )

    report: dict[str, Any] = await anyio.to_thread.run_sync(run)
    report["opened"] = url
    return report


async def connect_signing_in(stack: Stack, bridge: Bridge) -> tuple[list[str], dict[str, Any], Any]:
    """Start mcp-remote, sign in at the browser it asks for, list its tools and, where the
    surface offers `code`, run it once. Returns the tool names, the browser report and the
    `code` result (or None)."""
    seen = len(bridge.machine.opened())
    reports: list[dict[str, Any]] = []
    names: list[str] = []
    ran: Any = None

    async def person() -> None:
        reports.append(await sign_in_when_asked(stack, bridge.machine, seen))

    with anyio.fail_after(RUN_TIMEOUT_S):
        async with anyio.create_task_group() as group:
            group.start_soon(person)
            try:
                async with bridged(bridge) as client:
                    names = [t.name for t in (await client.list_tools()).tools]
                    if "code" in names:
                        ran = await client.call_tool(
                            "code",
                            {
                                "code": "return await codemode.time_get_current_time("
                                "{timezone: 'UTC'})"
                            },
                        )
            except BaseException as exc:
                group.cancel_scope.cancel()
                raise AssertionError(
                    f"mcp-remote failed: {exc!r}\nits stderr:\n{bridge.log()}\n"
                    f"browser: {brief(reports[0]) if reports else 'not reached'}"
                ) from exc
    return names, reports[0], ran


def check_authorization(stack: Stack, bridge: Bridge, report: dict[str, Any]) -> None:
    """The URL mcp-remote opened and where the browser ended."""
    opened = report["opened"]
    endpoint = discover(stack, "team").server["authorization_endpoint"]
    assert opened.startswith(endpoint + "?"), (endpoint, opened)
    params = query_of(opened)
    assert params["redirect_uri"] == bridge.redirect_uri, params
    assert urlsplit(params["redirect_uri"]).hostname in ("localhost", "127.0.0.1")
    assert params["code_challenge_method"] == "S256" and params["code_challenge"], params
    assert params["response_type"] == "code" and params["state"], params
    assert params.get("resource") == stack.portal.mcp_url("team"), params
    # The browser reached mcp-remote's own callback server with a code, and it answered.
    assert report["final"].startswith(bridge.redirect_uri + "?"), brief(report)
    back = query_of(report["final"])
    assert back.get("code") and back.get("state") == params["state"], brief(report)
    assert "Authorization successful" in report["pages"][-1]["text"], brief(report)


async def test_mcp_remote_signs_in_with_a_scripted_browser_and_bridges_the_portal(
    flow: Stack, tmp_path: Path
) -> None:
    machine = Machine(tmp_path / "machine")
    # mcp-remote's stderr stays out of the stack's logs, which other tests scan for secrets (it
    # prints the authorization URL, as it should).
    logs = tmp_path / "logs"
    logs.mkdir()
    url = flow.portal.mcp_url("team")

    # 1. First start: 401 → discovery → registration → browser → IdP → consent → callback.
    first = Bridge(machine, url, free_port(), logs)
    names, report, _ = await connect_signing_in(flow, first)
    assert "time_get_current_time" in names and "demo_echo" in names, names
    check_authorization(flow, first, report)
    consent = report.get("consentPage")
    assert consent, brief(report)
    for shown in ("Team tools", "MCP CLI Proxy", "localhost", PERSON, "Clock", "Demo"):
        assert shown in consent["text"], (shown, consent["text"])
    assert any(p["url"].startswith(flow.idp.issuer) for p in report["pages"]), (
        "the IdP's login page was not on the way: " + brief(report)
    )
    # Its tokens are cached under ~/.mcp-auth of the fake home, not anywhere else.
    cached = sorted(p.name for p in (machine.home / ".mcp-auth").rglob("*_tokens.json"))
    assert cached, list((machine.home / ".mcp-auth").rglob("*"))

    # 2. The code-mode surface (another URL, so mcp-remote registers again): the portal's
    #    browser session is reused (no IdP login page), consent is asked, `code` runs.
    second = Bridge(machine, url + CODE, free_port(), logs)
    names, report, ran = await connect_signing_in(flow, second)
    assert names == ["code"], names
    check_authorization(flow, second, report)
    assert not any(p["url"].startswith(flow.idp.issuer) for p in report["pages"]), (
        "the IdP was asked again: " + brief(report)
    )
    assert ran is not None and not ran.is_error, text_of(ran)
    assert "UTC" in text_of(ran), text_of(ran)

    # 3. The first URL again: mcp-remote starts from its token cache, no browser. (Same
    #    callback port: mcp-remote drops a cached registration whose redirect URI differs.)
    opened_before = machine.opened()
    third = Bridge(machine, url, first.callback_port, logs)
    with anyio.fail_after(RUN_TIMEOUT_S):
        try:
            async with bridged(third) as client:
                again = [t.name for t in (await client.list_tools()).tools]
        except BaseException as exc:
            raise AssertionError(f"mcp-remote failed: {exc!r}\n{third.log()}") from exc
    assert "time_get_current_time" in again, again
    assert machine.opened() == opened_before, machine.opened()
    assert len(opened_before) == 2, opened_before
