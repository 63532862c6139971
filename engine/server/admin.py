"""Admin and logs API (`/api/...`, codemode's own format): JSON, read-only except re-syncing
one server, behind an admin token (`Authorization: Bearer <token>`). The Cloudflare-compatible
paths (`/client/v4/...`) are `engine.server.cf_admin`; both take the same tokens (`AdminAuth`):
`CODEMODE_ADMIN_TOKEN` (named `env`, write permission) and, when the store is open, the named
tokens of `codemode admin-token create` (read or write).

With neither a token in the environment nor a store every protected route answers 503 saying
how to set one; a missing, wrong or revoked token gets 401, a read token on a write 403.
`GET /api/openapi.json` (the API's OpenAPI document) is public: it holds no data.
Every answer, errors included, is an envelope
`{result, success, errors: [{code, message}], messages}`.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.config import ID_PATTERN
from engine.server.admin_models import (
    AuditEntryOut,
    Envelope,
    ErrorEnvelope,
    Message,
    log_entry_out,
    portal_out,
    sync_out,
)
from engine.server.openapi import DEFAULT_LOG_LIMIT, MAX_LOG_LIMIT, openapi_document

if TYPE_CHECKING:
    from engine.gateway import Gateway

ADMIN_TOKEN_ENV = "CODEMODE_ADMIN_TOKEN"
"""Environment variable the CLI reads the admin token from."""

Handler = Callable[[Request], Awaitable[Response]]
ENV_TOKEN_NAME = "env"
"""The name the `CODEMODE_ADMIN_TOKEN` token goes by (write permission)."""


@dataclass(frozen=True)
class AdminCaller:
    """Who called the admin API: a token's name and whether it may write."""

    name: str
    can_write: bool


Guard = Callable[[Request], Awaitable[AdminCaller]]
# Every route takes every method and answers a wrong one itself, in the envelope.
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ApiError(Exception):
    """An answer other than success: HTTP status and a message a person can act on."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _ok(result: Any) -> Response:
    body = Envelope[Any](result=result, success=True)
    return JSONResponse(body.model_dump(mode="json"))


def _error(err: ApiError) -> Response:
    body = ErrorEnvelope(errors=[Message(code=err.status, message=err.message)])
    return JSONResponse(body.model_dump(mode="json"), status_code=err.status, headers=err.headers)


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


class AdminAuth:
    """Who calls the admin API: the environment token (named `env`, write permission) or a
    named token from the store (`admin_tokens`: hashed, read or write, revocable)."""

    def __init__(self, gateway: Gateway, admin_token: str | None) -> None:
        self.gateway = gateway
        self.token = admin_token or None
        self._env = AdminCaller(ENV_TOKEN_NAME, can_write=True)

    async def check(self, request: Request) -> AdminCaller:
        store = self.gateway.store
        if self.token is None and store is None:
            raise ApiError(
                503,
                "the admin API is off: no admin token is configured. Start the server with "
                f"the environment variable {ADMIN_TOKEN_ENV} set to a long random secret, "
                "or add an [admin] table to the config and create a named token with "
                "`codemode admin-token create NAME [--write]`; then send it as "
                "`Authorization: Bearer <token>`.",
            )
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        given = given.strip()
        challenge = {"WWW-Authenticate": 'Bearer realm="codemode-admin"'}
        if scheme.lower() != "bearer" or not given:
            raise ApiError(
                401, "missing admin token: send `Authorization: Bearer <token>`", challenge
            )
        if self.token is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            return self._env
        if store is not None:
            from sqlalchemy.exc import SQLAlchemyError  # loaded already: the store is open

            from engine.store import StoreUnavailable

            try:
                found = await store.admin_tokens.verify(given)
            except (SQLAlchemyError, StoreUnavailable):
                retry = {"Retry-After": str(StoreUnavailable.RETRY_AFTER_S)}
                raise ApiError(
                    503, "the store cannot be read to check the admin token; retry shortly", retry
                ) from None
            if found is not None:
                return AdminCaller(found.name, can_write=found.can_write)
        raise ApiError(401, "wrong or revoked admin token", challenge)

    async def check_write(self, request: Request) -> AdminCaller:
        token = await self.check(request)
        if not token.can_write:
            raise ApiError(
                403,
                f"the admin token {token.name!r} has read permission; this needs write "
                "(`codemode admin-token create NAME --write`)",
            )
        return token


class _Api:
    def __init__(self, gateway: Gateway, auth: AdminAuth) -> None:
        self.gateway = gateway
        self.auth = auth

    # -- handlers -----------------------------------------------------------------------------

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def portals(self, request: Request) -> Response:
        servers = {s.id: s for s in self.gateway.config.servers}
        return _ok([_dump(portal_out(p, servers)) for p in self.gateway.portals.values()])

    async def portal(self, request: Request) -> Response:
        portal_id = request.path_params["portal_id"]
        portal = self.gateway.portals.get(portal_id)
        if portal is None:
            known = ", ".join(self.gateway.portals) or "none"
            raise ApiError(404, f"no portal {portal_id!r} (portals: {known})")
        servers = {s.id: s for s in self.gateway.config.servers}
        return _ok(_dump(portal_out(portal, servers)))

    async def sync(self, request: Request) -> Response:
        server_id = request.path_params["server_id"]
        known = self.gateway.catalog.server_ids
        if server_id not in known:
            raise ApiError(404, f"no server {server_id!r} (servers: {', '.join(known) or 'none'})")
        status = await self.gateway.catalog.sync(server_id)
        return _ok(_dump(sync_out(status)))

    async def logs(self, request: Request) -> Response:
        portal, server, since, limit = self._log_filters(request)
        log = self.gateway.request_log

        def query() -> list[Any]:
            # Entries are written by a background thread: flush so a call just made shows up.
            log.flush()
            return log.query(portal=portal, server=server, since=since, limit=limit)

        records = await anyio.to_thread.run_sync(query)
        return _ok([_dump(log_entry_out(r)) for r in records])

    async def audit(self, request: Request) -> Response:
        """The audit log of configuration writes, newest first (`since`, `limit`)."""
        store = self.gateway.store
        if store is None:
            raise ApiError(404, "no audit log: the config has no [admin] table (no store)")
        params = request.query_params
        since, limit = _parse_since(params.get("since")), _parse_limit(params.get("limit"))
        entries = await store.configs.audit(since=since, limit=limit)
        out = [
            AuditEntryOut(
                at=e.at, by=e.by, action=e.action, kind=e.kind, id=e.object_id, changes=e.changes
            )
            for e in entries
        ]
        return _ok([_dump(o) for o in out])

    # -- parameters ---------------------------------------------------------------------------

    def _log_filters(self, request: Request) -> tuple[str | None, str | None, datetime | None, int]:
        params = request.query_params
        portal = _parse_id("portal", params.get("portal"))
        if portal is not None and portal not in self.gateway.portals:
            known = ", ".join(self.gateway.portals) or "none"
            raise ApiError(404, f"portal: no portal {portal!r} (portals: {known})")
        server = _parse_id("server", params.get("server"))
        if server is not None and server not in self.gateway.catalog.server_ids:
            known = ", ".join(self.gateway.catalog.server_ids) or "none"
            raise ApiError(404, f"server: no server {server!r} (servers: {known})")
        return portal, server, _parse_since(params.get("since")), _parse_limit(params.get("limit"))


# Strict forms of what the OpenAPI document promises; Python's own parsers accept more
# (`int("5_0")`, a date without a time), which would let schema-violating input through.
_ID = re.compile(ID_PATTERN)
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:(?P<sec>\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)
_INTEGER = re.compile(r"-?[0-9]+")


def _parse_id(name: str, raw: str | None) -> str | None:
    if raw is None:
        return None
    if len(raw) > 32 or not _ID.fullmatch(raw):
        raise ApiError(
            400, f"{name}: {raw!r} is not an id (letters, digits, '_' and '-'; at most 32)"
        )
    return raw


def _parse_since(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    problem = ApiError(
        400, f"since: {raw!r} is not an RFC 3339 time with an offset, e.g. 2026-01-31T12:00:00Z"
    )
    match = _RFC3339.fullmatch(raw)
    if match is None:
        raise problem
    text = raw.upper()
    if match["sec"] == "60":  # a leap second: Python has none, take the second before
        text = text[: match.start("sec")] + "59" + text[match.end("sec") :]
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise problem from None


def _parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LOG_LIMIT
    value = int(raw) if _INTEGER.fullmatch(raw) else 0
    if not 1 <= value <= MAX_LOG_LIMIT:
        raise ApiError(400, f"limit: {raw!r} is not a whole number from 1 to {MAX_LOG_LIMIT}")
    return value


def _endpoint(method: str, handler: Handler, guard: Guard | None) -> Handler:
    """Answer errors (including a wrong method) in the envelope, not as Starlette's plain text."""

    async def endpoint(request: Request) -> Response:
        try:
            if request.method != method and not (method == "GET" and request.method == "HEAD"):
                raise ApiError(405, f"use {method} on this path", {"Allow": method})
            if guard is not None:
                await guard(request)
            return await handler(request)
        except ApiError as err:
            return _error(err)

    return endpoint


def admin_routes(gateway: Gateway, admin_token: str | None) -> list[BaseRoute]:
    """Routes under `/api/` and `/client/v4/`; with no admin token configured (environment or
    store) they answer 503 with the reason."""
    from engine.server.cf_admin import cf_routes

    auth = AdminAuth(gateway, admin_token)
    api = _Api(gateway, auth)
    guard = auth.check
    # `:path` ids: any id reaches the handler, so even odd ones get an enveloped 404.
    table: list[tuple[str, str, Handler, Guard | None]] = [
        ("/api/openapi.json", "GET", api.openapi, None),
        ("/api/portals", "GET", api.portals, guard),
        ("/api/portals/{portal_id:path}", "GET", api.portal, guard),
        ("/api/servers/{server_id:path}/sync", "POST", api.sync, auth.check_write),
        ("/api/logs", "GET", api.logs, guard),
        ("/api/audit", "GET", api.audit, guard),
    ]
    routes: list[BaseRoute] = [
        Route(path, _endpoint(method, handler, check), methods=_ALL_METHODS)
        for path, method, handler, check in table
    ]
    return [*routes, *cf_routes(gateway, auth)]
