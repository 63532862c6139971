"""Health checks for supervisors and load balancers, and what a store outage answers.

- `GET /healthz` (liveness): 200 while the process serves HTTP at all. A supervisor restarts
  a process that stops answering it; it checks nothing else, so a database outage never
  gets every replica restarted at once.
- `GET /readyz` (readiness): 200 when this process should get traffic: the upstream catalog
  has settled (every server's first connection was attempted), the store (when the config
  uses one) answers a trivial query within 2 s, and the process is not draining. Else 503
  with one word of reason. A load balancer sends new requests elsewhere while it is 503.

Both answer any Host (they are exempt from the DNS-rebinding check: a balancer or a
Kubernetes probe names the replica by its address) and reveal nothing but those words: no
version, no server names, no error text, no URL.

A store outage on any route (`StoreUnavailable`: PostgreSQL down or restarting, SQLite locked
past its busy timeout) is a 503 with `Retry-After`, never a 500 or a hang: the store's pool
fails fast (connect timeout) and reconnects by itself once the database is back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.gateway import Gateway
from engine.store import StoreUnavailable

HEALTH_PATHS: Final = frozenset({"/healthz", "/readyz"})
NO_STORE = {"Cache-Control": "no-store"}
LOG_EVERY_S = 10.0
_last_logged = [float("-inf")]
log = logging.getLogger(__name__)


@dataclass
class Health:
    """This process's readiness; `draining` is set by the server when a stop begins."""

    gateway: Gateway
    draining: bool = False
    _store_down: bool = field(default=False, repr=False)

    async def not_ready(self) -> str | None:
        """Why this process should get no traffic now, or None when it should."""
        if self.draining:
            return "draining"
        if not self.gateway.catalog.settled:
            return "starting"
        store = self.gateway.store
        if store is not None:
            try:
                await store.ping()
            except StoreUnavailable as exc:
                self._note_store(exc)
                return "store unreachable"
            self._note_store(None)
        return None

    def _note_store(self, exc: StoreUnavailable | None) -> None:
        """Log the outage once when it starts and once when it ends, not per probe."""
        if exc is not None and not self._store_down:
            log.warning("not ready: %s", exc)
        elif exc is None and self._store_down:
            log.warning("ready again: the database answers")
        self._store_down = exc is not None

    def routes(self) -> list[BaseRoute]:
        async def healthz(request: Request) -> Response:
            return JSONResponse({"status": "ok"}, headers=NO_STORE)

        async def readyz(request: Request) -> Response:
            reason = await self.not_ready()
            if reason is None:
                return JSONResponse({"ready": True}, headers=NO_STORE)
            return JSONResponse({"ready": False, "reason": reason}, 503, headers=NO_STORE)

        return [
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/readyz", readyz, methods=["GET", "HEAD"]),
        ]


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """The app's answer to `StoreUnavailable` on any route: 503 with `Retry-After`. The
    client is told only that it should retry; the log says which database and why."""
    now = time.monotonic()
    if now - _last_logged[0] >= LOG_EVERY_S:  # an outage under load: a line, not a flood
        _last_logged[0] = now
        log.warning(
            "%s %s: %s (logged at most every %g s)",
            request.method,
            request.url.path,
            exc,
            LOG_EVERY_S,
        )
    retry = str(StoreUnavailable.RETRY_AFTER_S)
    return JSONResponse(
        {"error": f"the portal's database is unreachable right now; retry in {retry} s"},
        503,
        headers={"Retry-After": retry, **NO_STORE},
    )
