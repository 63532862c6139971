"""Regenerate the README's screenshots of sign-in, from the built-in `signin` demo.

    python scripts/signin_screenshots.py            # writes docs/signed-in.png, docs/signed-out.png
    python scripts/signin_screenshots.py --out-dir /tmp/shots --width 420

Starts `codemode serve --demo signin` (this interpreter; 127.0.0.1:8787 as a newcomer sees it,
or a free port when 8787 is taken), connects an MCP client named "Claude Code" as
ana@example.com through the dev sign-in over HTTP (`tests/identity_flow/devflow.py`: register,
PKCE, Allow) and calls a tool with its token once every upstream server is Ready; then, in
headless Chromium (`scripts/signin_screenshots.mjs`), signs ana in on the homepage (group
`engineering`, so Git shows too), screenshots it with the client listed, signs out and
screenshots the summary. Needs `npm install` (playwright-core) and Chromium.
Exit status: 0 written, 1 failed (the reason on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from homepage_screenshot import (
    BROWSER_TIMEOUT_S,
    DEFAULT_PORT,
    POLL_S,
    READY_TIMEOUT_S,
    REPO,
    ScreenshotError,
    pick_port,
    stop,
)

sys.path.insert(0, str(REPO))  # engine and tests.identity_flow.devflow, from any directory

import anyio
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.identity_flow.devflow import DevFlowError, connect_client

DRIVER = Path(__file__).with_name("signin_screenshots.mjs")
EMAIL = "ana@example.com"
GROUPS = "engineering"
SERVERS = ("time_", "git_", "notes_")
"""The demo's servers by tool-name prefix: all of them, once every one is Ready."""


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


@contextmanager
def serving_signin_demo(port: int) -> Iterator[str]:
    """`codemode serve --demo signin` at 127.0.0.1:`port`, answering; yields its URL."""
    base = f"http://127.0.0.1:{port}/"
    argv = [sys.executable, "-m", "engine.cli", "serve", "--demo", "signin"]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while _status(base) != 200:
                if server.poll() is not None or time.monotonic() > deadline:
                    stop(server)
                    log.seek(0)
                    output = log.read().decode(errors="replace")[-2000:]
                    raise ScreenshotError(f"{base} did not answer\ncodemode serve said:\n{output}")
                time.sleep(POLL_S)
            yield base
        finally:
            stop(server)


async def connect_and_use(base: str) -> None:
    """Connect "Claude Code" as ana, wait until it lists every demo server's tools, call one."""
    try:
        tokens = await connect_client(base, EMAIL, groups=GROUPS)
    except DevFlowError as exc:
        raise ScreenshotError(f"the dev sign-in flow failed: {exc}") from None
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        while True:
            async with Client(streamable_http_client(tokens.resource, http_client=http)) as client:
                names = [t.name for t in (await client.list_tools()).tools]
                if all(any(n.startswith(p) for n in names) for p in SERVERS):
                    result = await client.call_tool(
                        "time_get_current_time", {"timezone": "Europe/Lisbon"}
                    )
                    if result.is_error:
                        raise ScreenshotError(f"the tool call failed: {result.content}")
                    return
            if time.monotonic() > deadline:
                raise ScreenshotError(f"not every demo server is Ready; tools: {names}")
            await anyio.sleep(POLL_S * 4)


def screenshots(url: str, signed_in: Path, signed_out: Path, width: int) -> dict[str, str]:
    signed_in.parent.mkdir(parents=True, exist_ok=True)
    signed_out.parent.mkdir(parents=True, exist_ok=True)
    argv = ["node", str(DRIVER), url, EMAIL, GROUPS, str(signed_in), str(signed_out), str(width)]
    try:
        done = subprocess.run(
            argv, cwd=REPO, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise ScreenshotError("node not found (install Node.js, then npm install)") from None
    if done.returncode != 0:
        raise ScreenshotError(f"browser failed:\n{done.stderr[-3000:]}")
    seen: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    if seen.get("account") != EMAIL or "Claude Code" not in seen.get("connected", ""):
        raise ScreenshotError(f"the signed-in homepage is not ana's with her client: {seen}")
    if f"Signed out {EMAIL}" not in seen.get("message", ""):
        raise ScreenshotError(f"the sign-out summary is not ana's: {seen}")
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs")
    parser.add_argument("--width", type=int, default=1000, help="viewport width in px (1000)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"serve on this port if free, else on any free one ({DEFAULT_PORT}; 0: any)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("CHROMIUM_PATH", "/usr/bin/chromium")
    if not Path(os.environ["CHROMIUM_PATH"]).exists():
        print(f"error: {os.environ['CHROMIUM_PATH']} not found; set CHROMIUM_PATH", file=sys.stderr)
        return 1
    signed_in, signed_out = args.out_dir / "signed-in.png", args.out_dir / "signed-out.png"
    try:
        with serving_signin_demo(pick_port(args.port)) as url:
            anyio.run(connect_and_use, url)
            seen = screenshots(url, signed_in, signed_out, args.width)
    except ScreenshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in (signed_in, signed_out):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    print(seen["message"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
