"""Ending the open MCP requests of a token that stopped being valid.

A request to `/mcp` checks its portal token once, when it arrives; a stream it opens (a long
`tools/call` sending progress, a 2025-era session's standing GET stream) could otherwise run
on for hours after its person signed out. `StreamGuard` knows each open request of a portal
token by the token's digest, and every `CHECK_S` asks the store, in one query, which of those
tokens are revoked (itself or its grant) or expired.

- A revoked token's requests are all cancelled, so their responses end.
- An expired token ends only its *standing* streams, which carry no work: a 2025-era GET
  stream and a 2026-era `subscriptions/listen`; the client opens them again with its fresh
  token. A call admitted with a valid token runs to its answer: ending it at expiry threw
  its work away and answered 401, and a client that refreshes and retries then made a
  non-idempotent call twice (a portal behind a portal did, with 2 s tokens).

The store is shared, so a sign-out or revocation made on any replica ends the streams on every
replica within about `CHECK_S` plus one query. A tick that finds the store unreachable is
skipped: streams are not ended for an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import anyio
import pydantic_core
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.store import Store, StoreUnavailable
from engine.store.grants import token_hash
from engine.store.revocations import invalid_among

log = logging.getLogger("codemode.server")

REVOKED: Final = "the token was revoked or has expired"
CHALLENGE: Final = f'Bearer error="invalid_token", error_description="{REVOKED}"'
CHECK_S: Final = 0.5
"""Between two checks: with the query, a revoked grant's streams end within 1 s."""
LISTEN: Final = "subscriptions/listen"


@dataclass(eq=False)
class _Open:
    """One open request: how to end it, and whether it is a standing stream."""

    scope: anyio.CancelScope
    standing: bool


class StreamGuard:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._open: dict[str, set[_Open]] = {}

    async def serve(
        self, token: str, app: ASGIApp, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the ASGI `app` for one request of `token` until it is done or the token stops
        being valid. Then a response not yet begun is a 401; one under way (a stream) is
        ended with its last, empty chunk, so the client sees it end rather than hang."""
        started = finished = False

        async def reading() -> Message:
            message = await receive()
            if message["type"] == "http.request" and _is_listen(message.get("body", b"")):
                watch.standing = True
            return message

        async def tracked(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        with self._watching(token_hash(token), scope.get("method") == "GET") as watch:
            await app(scope, reading, tracked)
        if not watch.scope.cancelled_caught or finished:
            return
        if started:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        refusal = JSONResponse(
            {"error": REVOKED},
            status_code=401,
            headers={"WWW-Authenticate": CHALLENGE},
        )
        await refusal(scope, receive, send)

    @contextmanager
    def _watching(self, digest: str, standing: bool) -> Iterator[_Open]:
        with anyio.CancelScope() as scope:
            request = _Open(scope, standing)
            self._open.setdefault(digest, set()).add(request)
            try:
                yield request
            finally:
                requests = self._open.get(digest, set())
                requests.discard(request)
                if not requests:
                    self._open.pop(digest, None)

    @property
    def open_requests(self) -> int:
        return sum(len(requests) for requests in self._open.values())

    async def check(self) -> int:
        """End the requests of tokens no longer valid; how many were ended."""
        if not self._open:
            return 0
        try:
            now = self._store.grants.now()
            invalid = await invalid_among(self._store.engine, set(self._open), now)
        except StoreUnavailable as exc:
            log.debug("stream guard: skipped a check: %s", exc)
            return 0
        ended = 0
        for digest in invalid.revoked | invalid.expired:
            for request in list(self._open.get(digest, ())):
                if digest in invalid.revoked or request.standing:
                    request.scope.cancel()
                    ended += 1
        if ended:
            log.info("ended %d open request(s) of revoked or expired tokens", ended)
        return ended

    async def patrol(self) -> None:
        """Check every CHECK_S until cancelled."""
        while True:
            await anyio.sleep(CHECK_S)
            await self.check()


def _is_listen(body: bytes) -> bool:
    """Whether `body` is a 2026-era `subscriptions/listen` request (a cheap test first: this
    runs on every request of a portal token)."""
    if LISTEN.encode() not in body:
        return False
    try:
        message = pydantic_core.from_json(body)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("method") == LISTEN
