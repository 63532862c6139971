"""`codemode status --url`: the upstream servers' states as a running `serve` sees them,
asked through its admin API."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import httpx2

from engine.cli.exits import (
    EXIT_FAILED,
    EXIT_USAGE,
    CliError,
)
from engine.cli.report import report_status
from engine.server.admin import ADMIN_TOKEN_ENV
from engine.status import ServerStatus

STATUS_TIMEOUT_S = 10.0
"""How long `status --url` waits for the portal to answer."""


async def status_of_running_portal(args: argparse.Namespace) -> int:
    """`status --url`: the servers' states as the running portal at `args.url` sees them."""
    base = args.url.rstrip("/")
    print(f"status of the running portal at {base}", file=sys.stderr)
    token = os.environ.get(ADMIN_TOKEN_ENV, "").strip()
    if not token:
        raise CliError(
            f"status --url needs the portal's admin token: set {ADMIN_TOKEN_ENV} to the value "
            "the portal was started with"
        )
    try:
        async with httpx2.AsyncClient(timeout=STATUS_TIMEOUT_S) as client:
            response = await client.get(
                f"{base}/api/portals", headers={"Authorization": f"Bearer {token}"}
            )
    except httpx2.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise CliError(f"cannot reach the portal at {base}: {reason}", EXIT_FAILED) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "success" not in body:
        raise CliError(
            f"{base} did not answer as a codemode portal (HTTP {response.status_code} on "
            "/api/portals); is the URL the portal's base, like http://127.0.0.1:8787?",
            EXIT_FAILED,
        )
    if not body["success"]:
        errors = body.get("errors") or [{}]
        message = errors[0].get("message", "")
        code = EXIT_USAGE if response.status_code in (401, 403, 503) else EXIT_FAILED
        raise CliError(
            f"the portal at {base} refused: HTTP {response.status_code}: {message}", code
        )
    return report_status(statuses_of(body["result"]), args.json)


def statuses_of(portals: list[dict[str, Any]]) -> dict[str, ServerStatus]:
    """Each server once, from the admin API's portals (a server may be in several)."""
    statuses: dict[str, ServerStatus] = {}
    for portal in portals:
        for server in portal["servers"]:
            statuses.setdefault(
                server["id"],
                ServerStatus(
                    server_id=server["id"],
                    state=server["status"],
                    error_details=server.get("error_details"),
                    last_synced=server.get("last_synced"),
                    last_successful_sync=server.get("last_successful_sync"),
                    tool_count=server["tool_count"],
                    prompt_count=server["prompt_count"],
                    protocol_version=server.get("protocol_version"),
                ),
            )
    return statuses
