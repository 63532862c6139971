"""`codemode auth SERVER_ID --url URL`: authorize the running portal at an `oauth` upstream.

Asks the portal (admin API token in CODEMODE_ADMIN_TOKEN, write permission) to start the
flow, prints the authorization URL for the admin to open, and returns once the browser came
back to the portal's callback and the portal stored the credential (or the flow failed)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Final

import anyio
import httpx2

from engine.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from engine.server.admin import ADMIN_TOKEN_ENV

POLL_S: Final = 0.5
DEFAULT_WAIT_S: Final = 600.0


def add_auth_command(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("server_id", metavar="SERVER_ID", help='an auth_type = "oauth" server')
    parser.add_argument(
        "--url",
        required=True,
        metavar="URL",
        help="the running portal, as the browser reaches it (e.g. http://127.0.0.1:8787): its "
        "callback is URL/oauth/upstream/callback",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=f"how long to wait for the browser ({DEFAULT_WAIT_S:g})",
    )


async def cmd_auth(args: argparse.Namespace) -> int:
    token = os.environ.get(ADMIN_TOKEN_ENV, "").strip()
    if not token:
        raise CliError(f"auth needs the portal's admin token (write): set {ADMIN_TOKEN_ENV}")
    base = f"{args.url.rstrip('/')}/oauth/upstream/{args.server_id}"
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(timeout=60, headers=headers) as http:
        started = await _call(http, "POST", f"{base}/authorize")
        print(
            f"Open this URL to authorize the portal at server {args.server_id!r}:", file=sys.stderr
        )
        print(started["authorization_url"], flush=True)
        with anyio.move_on_after(args.wait):
            while True:
                await anyio.sleep(POLL_S)
                shown = await _call(http, "GET", base)
                if shown["state"] == "connected":
                    print(f"server {args.server_id!r} is connected", file=sys.stderr)
                    return EXIT_OK
                if shown["state"] == "failed":
                    raise CliError(f"not connected: {shown['error']}", EXIT_FAILED)
    raise CliError("nobody completed the authorization in time (--wait)", EXIT_FAILED)


async def _call(http: httpx2.AsyncClient, method: str, url: str) -> dict[str, Any]:
    try:
        response = await http.request(method, url)
        body = response.json()
    except httpx2.HTTPError as exc:
        raise CliError(f"cannot reach the portal: {type(exc).__name__}", EXIT_FAILED) from None
    except ValueError:
        raise CliError(f"{url} did not answer as a codemode portal", EXIT_FAILED) from None
    if not isinstance(body, dict) or not body.get("success"):
        errors = body.get("errors") if isinstance(body, dict) else None
        message = errors[0].get("message", "") if errors else f"HTTP {response.status_code}"
        code = EXIT_USAGE if response.status_code in (401, 403, 404, 503) else EXIT_FAILED
        raise CliError(f"the portal refused: {message}", code)
    result: dict[str, Any] = body["result"]
    return result
