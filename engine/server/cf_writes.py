"""The write handlers of the Cloudflare-shaped admin API: create, replace (`PUT`) and delete
portals and servers. Each reads its body (`engine.server.cf_write`), describes the whole new
set of entries, and hands it to `ConfigWriter.write` (validated whole, stored, applied live,
or nothing); the answer is the object as `GET` shows it (for a delete: as it was)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.config import Config
from engine.config_store import entry
from engine.credentials import StoredCredentials
from engine.server.admin import ApiError
from engine.server.cf_apply import Change
from engine.server.cf_write import code_mode_problem, portal_entry, server_entry

if TYPE_CHECKING:
    from engine.server.cf_admin import _CfApi

Secrets = dict[str, StoredCredentials]


def _ok(result: Any) -> Response:
    return JSONResponse({"result": result, "success": True, "errors": [], "messages": []})


async def _body(request: Request) -> Mapping[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the body is empty or not JSON; send a JSON object") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the body is a JSON {type(body).__name__}; send a JSON object")
    return body


def _by(request: Request) -> str:
    return str(request.state.admin.name)


def _index(entries: list[dict[str, Any]], object_id: str) -> int | None:
    return next((i for i, e in enumerate(entries) if e.get("id") == object_id), None)


class CfWrites:
    def __init__(self, api: _CfApi) -> None:
        self.api = api
        self.gateway = api.gateway
        self.writer = api.writer

    # -- portals ------------------------------------------------------------------------------

    async def _portal_write(self, request: Request, portal_id: str | None) -> Response:
        body = await _body(request)

        def make(current: Config, secrets: Secrets) -> Change:
            existing = None
            if portal_id is not None:
                existing = next((p for p in current.portals if p.id == portal_id), None)
                if existing is None:
                    raise ApiError(404, f"id: no portal {portal_id!r}")
            data, problems = portal_entry(body, existing, portal_id, request.url.netloc)
            problems += code_mode_problem(body)
            portals = [entry(p) for p in current.portals]
            at = _index(portals, data["id"]) if isinstance(data.get("id"), str) else None
            if existing is None and at is not None:
                problems.append(("id", f"a portal {data['id']!r} exists already; PUT replaces it"))
                at = None
            if at is None:
                portals.append(data)
                at = len(portals) - 1
            else:
                portals[at] = data
            servers = [entry(s) for s in current.servers]
            return Change(servers, portals, secrets, "portal", at, problems)

        config = await self.writer.write(make, by=_by(request))
        new_id = portal_id or str(body.get("id"))
        return await self._portal_answer(request, new_id, config)

    async def _portal_answer(self, request: Request, portal_id: str, config: Config) -> Response:
        stamps = await self.writer.stamps()
        portal = self.gateway.portals.get(portal_id)
        if portal is not None:
            return _ok(self.api.portal_out(portal, request, stamps))
        return _ok(self.api.portal_config_out(config.portal(portal_id), None, request, stamps))

    async def create_portal(self, request: Request) -> Response:
        return await self._portal_write(request, None)

    async def update_portal(self, request: Request) -> Response:
        return await self._portal_write(request, request.path_params["id"])

    async def delete_portal(self, request: Request) -> Response:
        portal_id = request.path_params["id"]
        portal = self.gateway.portals.get(portal_id)
        if portal is None:
            raise ApiError(404, f"id: no portal {portal_id!r}")
        before = self.api.portal_out(portal, request, await self.writer.stamps())

        def make(current: Config, secrets: Secrets) -> Change:
            if all(p.id != portal_id for p in current.portals):
                raise ApiError(404, f"id: no portal {portal_id!r}")
            portals = [entry(p) for p in current.portals if p.id != portal_id]
            servers = [entry(s) for s in current.servers]
            return Change(servers, portals, secrets, "portal", None, [])

        await self.writer.write(make, by=_by(request))
        return _ok(before)

    # -- servers ------------------------------------------------------------------------------

    async def _server_write(self, request: Request, server_id: str | None) -> Response:
        body = await _body(request)

        def make(current: Config, secrets: Secrets) -> Change:
            existing = None
            if server_id is not None:
                existing = next((s for s in current.servers if s.id == server_id), None)
                if existing is None:
                    raise ApiError(404, f"id: no server {server_id!r}")
            held = secrets.get(server_id) if server_id is not None else None
            data, stored, problems = server_entry(body, existing, held, server_id)
            servers = [entry(s) for s in current.servers]
            new_id = data.get("id")
            at = _index(servers, new_id) if isinstance(new_id, str) else None
            if existing is None and at is not None:
                problems.append(("id", f"a server {new_id!r} exists already; PUT replaces it"))
                at = None
            if at is None:
                servers.append(data)
                at = len(servers) - 1
            else:
                servers[at] = data
            kept = {k: v for k, v in secrets.items() if k != new_id}
            if stored is not None and isinstance(new_id, str):
                kept[new_id] = stored
            portals = [entry(p) for p in current.portals]
            return Change(servers, portals, kept, "server", at, problems)

        config = await self.writer.write(make, by=_by(request))
        new_id = server_id or str(body.get("id"))
        stamps = await self.writer.stamps()
        return _ok(self.api.server_out(config.server(new_id), stamps))

    async def create_server(self, request: Request) -> Response:
        return await self._server_write(request, None)

    async def update_server(self, request: Request) -> Response:
        return await self._server_write(request, request.path_params["id"])

    async def delete_server(self, request: Request) -> Response:
        server = self.api._server(request)
        before = self.api.server_out(server, await self.writer.stamps())

        def make(current: Config, secrets: Secrets) -> Change:
            if all(s.id != server.id for s in current.servers):
                raise ApiError(404, f"id: no server {server.id!r}")
            servers = [entry(s) for s in current.servers if s.id != server.id]
            portals = [entry(p) for p in current.portals]
            kept = {k: v for k, v in secrets.items() if k != server.id}
            return Change(servers, portals, kept, "server", None, [])

        await self.writer.write(make, by=_by(request))
        return _ok(before)
