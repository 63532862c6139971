"""The admin API on Cloudflare's wire: `/client/v4/accounts/{account_id}/access/ai-controls/
mcp/...`, so the official `cloudflare` SDK (5.9.0: `client.zero_trust.access.ai_controls.mcp`)
and the curl lines of its documentation work against a self-hosted portal:

    GET    .../portals             list (`page`, `per_page` <= 100; `result_info`)
    POST   .../portals             create
    GET    .../portals/{id}        one portal
    PUT    .../portals/{id}        replace
    DELETE .../portals/{id}        delete
    GET    .../servers             list (`page`, `per_page`)
    POST   .../servers             create
    GET    .../servers/{id}        one server
    PUT    .../servers/{id}        replace
    DELETE .../servers/{id}        delete (refused while a portal lists it)
    POST   .../servers/{id}/sync   re-sync now

Every answer is the envelope `{result, success, errors: [{code, message}], messages}`. The
account id is `[admin] account_id` (default `local`); another one is 404. Writes need a token
with write permission and `[admin] config = "store"` (`engine.server.cf_apply` applies them;
`engine.server.cf_write` reads their bodies); with `config = "file"` they answer 405 saying so.

Secrets never appear: no bearer token, header value or client secret, nor where one comes
from (`has_auth_credentials` / `auth_config_summary.has_client_secret` say one is set), no
environment or arguments of a stdio server, an upstream URL without user info or query.
`created_at/by` and `modified_at/by` come from the store (null for a file's objects).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp_types import Resource, ResourceTemplate
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.resource_curation import CuratedResource, CuratedTemplate
from engine.server.admin import ApiError, _error
from engine.server.admin_models import _merge_overrides, public_url
from engine.server.cf_apply import ApiProblems, ConfigWriter
from engine.status import ServerState, ServerStatus

if TYPE_CHECKING:
    from mcp_types import Prompt, Tool

    from engine.config import PortalConfig, ServerConfig
    from engine.gateway import Gateway
    from engine.portal import Portal
    from engine.server.admin import AdminAuth
    from engine.store.configs import Stamp

PREFIX = "/client/v4/accounts/{account_id}/access/ai-controls/mcp"
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_WHOLE = re.compile(r"[0-9]+")
Stamps = dict[tuple[str, str], "Stamp"]


def _ok(result: Any, result_info: dict[str, int] | None = None) -> Response:
    body: dict[str, Any] = {"result": result, "success": True, "errors": [], "messages": []}
    if result_info is not None:
        body["result_info"] = result_info
    return JSONResponse(body)


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _status_fields(status: ServerStatus) -> dict[str, Any]:
    details = status.error_details
    return {
        "status": status.state.value.lower(),
        "error": details.cause if details is not None else None,
        "error_details": details.model_dump() if details is not None else None,
        "last_synced": _time(status.last_synced),
        "last_successful_sync": _time(status.last_successful_sync),
    }


def _hostname(server: ServerConfig) -> str:
    """The upstream URL without credentials; a stdio server's program name (no arguments)."""
    if server.url:
        return public_url(server.url)
    return "stdio:" + Path(server.command or "").name


def _stamp_fields(stamp: Stamp | None) -> dict[str, Any]:
    if stamp is None:
        return {"created_at": None, "created_by": None, "modified_at": None, "modified_by": None}
    return {
        "created_at": _time(stamp.created_at),
        "created_by": stamp.created_by,
        "modified_at": _time(stamp.modified_at),
        "modified_by": stamp.modified_by,
    }


def _server_common(
    server: ServerConfig, status: ServerStatus, stamp: Stamp | None, routed: bool
) -> dict[str, Any]:
    stored = server.stored_credentials
    has_credentials = bool(server.bearer_token_env or server.bearer_token_file) or bool(
        stored and stored.has_auth_credentials
    )
    summary = (
        {"has_client_secret": bool(stored and stored.client_secret)}
        if server.auth_type == "oauth"
        else None
    )
    return {
        "id": server.id,
        "name": server.name or server.id,
        "hostname": _hostname(server),
        "auth_type": server.auth_type,
        "description": server.description,
        **_stamp_fields(stamp),
        "is_shared_oauth_callback_enabled": server.is_shared_oauth_callback_enabled,
        "secure_web_gateway": server.secure_web_gateway,
        "auth_config_summary": summary,
        # Our own: whether its traffic goes through the egress proxy, by its own flag or a
        # portal's (`secure_web_gateway` above is its own flag, as written).
        "egress_routed": routed,
        **_status_fields(status),
        # Our own additions.
        "transport": "http" if server.url else "stdio",
        "has_auth_credentials": has_credentials,
        "protocol_version": status.protocol_version,
    }


def _upstream_capability(item: Tool | Prompt) -> dict[str, Any]:
    return {"name": item.name, "description": item.description or ""}


def _upstream_resource(item: Resource | ResourceTemplate) -> dict[str, Any]:
    """A resource as tools and prompts are shown; `name` is the URI `updated_resources` uses."""
    uri = item.uri if isinstance(item, Resource) else item.uri_template
    return {"name": uri, "title": item.name, "description": item.description or ""}


def _curated_resource(item: CuratedResource | CuratedTemplate) -> dict[str, Any]:
    shown: Resource | ResourceTemplate
    if isinstance(item, CuratedResource):
        upstream, uri, shown = item.upstream_uri, item.uri, item.resource
    else:
        upstream, uri, shown = item.upstream_template, item.uri_template, item.template
    return {
        "name": upstream,
        "alias": shown.name,
        "uri": uri,
        "enabled": item.enabled,
        "description": shown.description or "",
    }


def _waiting(server_id: str) -> ServerStatus:
    return ServerStatus(server_id=server_id, state=ServerState.WAITING)


class _CfApi:
    def __init__(self, gateway: Gateway, auth: AdminAuth) -> None:
        self.gateway = gateway
        self.auth = auth
        self.writer = ConfigWriter(gateway)

    # -- shapes -------------------------------------------------------------------------------

    def _status(self, server_id: str) -> ServerStatus:
        return self.gateway.catalog.status().get(server_id) or _waiting(server_id)

    def server_out(self, server: ServerConfig, stamps: Stamps) -> dict[str, Any]:
        catalog = self.gateway.catalog
        known = server.id in catalog.server_ids
        tools = catalog.tools(server.id) if known else []
        prompts = catalog.prompts(server.id) if known else []
        resources = catalog.resources(server.id) if known else []
        templates = catalog.resource_templates(server.id) if known else []

        def overrides(entries: Any) -> list[dict[str, Any]]:
            out = []
            for e in entries:
                item: dict[str, Any] = {"name": e.name}
                for key, value in (
                    ("enabled", e.enabled),
                    ("require_approval", getattr(e, "require_approval", None)),
                    ("alias", e.server_alias),
                    ("description", e.server_description),
                ):
                    if value is not None:
                        item[key] = value
                out.append(item)
            return out

        return {
            **_server_common(
                server,
                self._status(server.id),
                stamps.get(("server", server.id)),
                self.gateway.catalog.routed(server.id),
            ),
            "default_disabled": server.default_disabled,
            "tools": [_upstream_capability(t) for t in tools],
            "prompts": [_upstream_capability(p) for p in prompts],
            "updated_tools": overrides(server.updated_tools),
            "updated_prompts": overrides(server.updated_prompts),
            # Our own additions: resources, curated like prompts (by upstream URI).
            "resources": [_upstream_resource(r) for r in resources],
            "resource_templates": [_upstream_resource(t) for t in templates],
            "updated_resources": overrides(server.updated_resources),
            "require_approval": server.require_approval,
        }

    def portal_out(self, portal: Portal, request: Request, stamps: Stamps) -> dict[str, Any]:
        return self.portal_config_out(
            portal.config, portal.view.curation, request, stamps, portal.view.resource_curation
        )

    def portal_config_out(
        self,
        config: PortalConfig,
        curation: Any,
        request: Request,
        stamps: Stamps,
        resource_curation: Any = None,
    ) -> dict[str, Any]:
        servers = {s.id: s for s in self.gateway.config.servers}
        # A portal just created may not be live yet: no curated lists to show.
        tools = curation.tools if curation is not None else []
        prompts = curation.prompts if curation is not None else []
        resources = resource_curation.resources if resource_curation is not None else []
        templates = resource_curation.templates if resource_curation is not None else []
        out_servers = []
        for ref in config.servers:
            server = servers.get(ref.server_id)
            if server is None:
                continue

            def capability(item: Any) -> dict[str, Any]:
                return {
                    "name": item.upstream_name,
                    "alias": item.name,
                    "enabled": item.enabled,
                    "description": item.description,
                }

            default_disabled = (
                ref.default_disabled
                if ref.default_disabled is not None
                else server.default_disabled
            )
            out_servers.append(
                {
                    **_server_common(
                        server,
                        self._status(server.id),
                        stamps.get(("server", server.id)),
                        self.gateway.catalog.routed(server.id),
                    ),
                    "server_id": server.id,
                    "default_disabled": default_disabled,
                    "on_behalf": ref.on_behalf,
                    "require_approval": ref.require_approval,
                    "tools": [capability(t) for t in tools if t.server_id == server.id],
                    "prompts": [capability(p) for p in prompts if p.server_id == server.id],
                    "updated_tools": [
                        o.model_dump(exclude_none=True)
                        for o in _merge_overrides(
                            list(server.updated_tools), list(ref.updated_tools)
                        )
                    ],
                    "updated_prompts": [
                        o.model_dump(exclude_none=True)
                        for o in _merge_overrides(
                            list(server.updated_prompts), list(ref.updated_prompts)
                        )
                    ],
                    # Our own additions: resources, curated like prompts (by upstream URI).
                    "resources": [
                        _curated_resource(r) for r in resources if r.server_id == server.id
                    ],
                    "resource_templates": [
                        _curated_resource(t) for t in templates if t.server_id == server.id
                    ],
                    "updated_resources": [
                        o.model_dump(exclude_none=True)
                        for o in _merge_overrides(
                            list(server.updated_resources), list(ref.updated_resources)
                        )
                    ],
                }
            )
        return {
            "id": config.id,
            # Without a configured hostname the portal answers on the host asked.
            "hostname": config.hostname or request.url.netloc,
            "name": config.name or config.id,
            "description": config.description,
            "allow_code_mode": config.allow_code_mode,
            "code_mode": str(config.code_mode),
            "secure_web_gateway": config.secure_web_gateway,
            "servers": out_servers,
            **_stamp_fields(stamps.get(("portal", config.id))),
            # Our own addition.
            "requires_api_key": bool(config.api_keys or config.api_keys_file),
        }

    # -- handlers -----------------------------------------------------------------------------

    async def portals(self, request: Request) -> Response:
        portals = list(self.gateway.portals.values())
        page, info = _page(request, len(portals))
        stamps = await self.writer.stamps()
        return _ok([self.portal_out(p, request, stamps) for p in page(portals)], info)

    async def portal(self, request: Request) -> Response:
        portal_id = request.path_params["id"]
        portal = self.gateway.portals.get(portal_id)
        if portal is None:
            raise ApiError(404, f"id: no portal {portal_id!r}")
        return _ok(self.portal_out(portal, request, await self.writer.stamps()))

    async def servers(self, request: Request) -> Response:
        servers = list(self.gateway.config.servers)
        page, info = _page(request, len(servers))
        stamps = await self.writer.stamps()
        return _ok([self.server_out(s, stamps) for s in page(servers)], info)

    def _server(self, request: Request) -> ServerConfig:
        server_id = request.path_params["id"]
        for server in self.gateway.config.servers:
            if server.id == server_id:
                return server
        raise ApiError(404, f"id: no server {server_id!r}")

    async def server(self, request: Request) -> Response:
        return _ok(self.server_out(self._server(request), await self.writer.stamps()))

    async def sync(self, request: Request) -> Response:
        server = self._server(request)
        status = await self.gateway.catalog.sync(server.id)
        return _ok({"id": server.id, **_status_fields(status)})

    async def openapi(self, request: Request) -> Response:
        """This API's OpenAPI document (public: it holds no data but the account id)."""
        from engine.server.cf_openapi import cf_openapi_document

        return JSONResponse(cf_openapi_document(self.gateway.config.account_id))

    async def not_found(self, request: Request) -> Response:
        raise ApiError(404, f"no such endpoint: {request.url.path}")

    # -- the wrapper --------------------------------------------------------------------------

    def endpoint(self, handlers: dict[str, Any]) -> Any:
        """Answer `handlers[method]`; GET and OPTIONS need read permission, the rest write."""
        allow = ", ".join(handlers)

        async def endpoint(request: Request) -> Response:
            try:
                asked = "GET" if request.method == "HEAD" else request.method
                if asked in ("GET", "OPTIONS"):
                    caller = await self.auth.check(request)
                else:
                    caller = await self.auth.check_write(request)
                account = request.path_params.get("account_id")
                expected = self.gateway.config.account_id
                if account is not None and account != expected:
                    raise ApiError(404, f"account_id: no account {account!r} here")
                handler = handlers.get(asked)
                if handler is None:
                    raise ApiError(405, f"use {allow} on this path", {"Allow": allow})
                request.state.admin = caller
                response: Response = await handler(request)
                return response
            except ApiProblems as problems:
                return problems.response()
            except ApiError as err:
                return _error(err)

        return endpoint


def _whole(name: str, raw: str | None, default: int, top: int | None) -> int:
    if raw is None:
        return default
    value = int(raw) if _WHOLE.fullmatch(raw) else 0
    if value < 1 or (top is not None and value > top):
        bound = f"from 1 to {top}" if top is not None else "1 or more"
        raise ApiError(400, f"{name}: {raw!r} is not a whole number {bound}")
    return value


def _page(request: Request, total: int) -> tuple[Any, dict[str, int]]:
    params = request.query_params
    page = _whole("page", params.get("page"), 1, None)
    per_page = _whole("per_page", params.get("per_page"), DEFAULT_PER_PAGE, MAX_PER_PAGE)
    start = (page - 1) * per_page

    def cut(items: list[Any]) -> list[Any]:
        return items[start : start + per_page]

    count = max(0, min(per_page, total - start))
    info = {
        "page": page,
        "per_page": per_page,
        "count": count,
        "total_count": total,
        "total_pages": (total + per_page - 1) // per_page,
    }
    return cut, info


def cf_routes(gateway: Gateway, auth: AdminAuth) -> list[BaseRoute]:
    """The `/client/v4/...` routes (every method reaches them: wrong ones get an envelope)."""
    from engine.server.cf_writes import CfWrites

    api = _CfApi(gateway, auth)
    writes = CfWrites(api)
    table = [
        (f"{PREFIX}/portals", {"GET": api.portals, "POST": writes.create_portal}),
        (
            f"{PREFIX}/portals/{{id}}",
            {"GET": api.portal, "PUT": writes.update_portal, "DELETE": writes.delete_portal},
        ),
        (f"{PREFIX}/servers", {"GET": api.servers, "POST": writes.create_server}),
        (f"{PREFIX}/servers/{{id}}/sync", {"POST": api.sync}),
        (
            f"{PREFIX}/servers/{{id}}",
            {"GET": api.server, "PUT": writes.update_server, "DELETE": writes.delete_server},
        ),
        ("/client/v4/{rest:path}", dict.fromkeys(_ALL_METHODS, api.not_found)),
    ]
    routes: list[BaseRoute] = [Route("/client/v4/openapi.json", api.openapi, methods=["GET"])]
    routes += [
        Route(path, api.endpoint(handlers), methods=_ALL_METHODS) for path, handlers in table
    ]
    return routes
