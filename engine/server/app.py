"""The HTTP app: every portal of a gateway at `/mcp`, plus the homepage, the admin API and the
health checks (`/healthz`, `/readyz`: `engine.server.health`).

```python
async with Gateway(config) as gateway:          # the caller owns the gateway
    app = create_app(gateway, admin_token=os.environ.get("CODEMODE_ADMIN_TOKEN"))
    await uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=8080)).serve()
```

Which portal: the request's Host header when it is a portal's `hostname`; else
`/p/<portal_id>/mcp`; else plain `/mcp` serves the only (or first) portal. Which surface: the
query string (`?optimize_context=minimize_tools|search_and_execute`,
`?codemode=search_and_execute|off`) read under the portal's `code_mode` policy
(`engine.surfaces.surface_for`); an unknown value is a 400 listing the valid ones. Each
(portal, surface) pair has its own MCP server and session manager, so a session belongs to
the surface it was opened on: its requests go there (`_session_endpoint`).

Every route (homepage, `/api/*`, `/.well-known/*`, `/mcp`, and paths no route serves) first
passes the Host/Origin check (DNS rebinding: localhost, configured portal hostnames and
`public_hosts` only; 421/403), so no page is ever rendered for a foreign Host. Then, on
`/mcp`: portal (404), API key when the portal has any (401 with
`WWW-Authenticate: Bearer resource_metadata=...`, RFC 9728), the portal's policies for the
caller (403), surface (400: a surface parameter given twice, with or without a session id;
else a request in a session goes to the surface the session was opened on, and any other to
the query's under the portal's `code_mode`, `surface_for`), body size (413, by the SDK).

What is checked follows the running config: `Gateway.apply` (the admin API's writes) and
`Gateway.reload` (SIGHUP to `codemode serve`) swap it, and in the same step (`on_reload`) the
router recomputes its API-key hashes, builds and starts the endpoints of an added portal and
stops those of a removed one, and the Host/Origin allow-list takes the portals' hostnames.

Who the caller is (`engine.auth.Principal`): the service named by the API key that matched
(its `name`, or `key:<first 8 hex digits>` for an unnamed key), or the anonymous caller of a
portal without keys. It rides in the ASGI scope (`PRINCIPAL_SCOPE_KEY`) to the MCP server,
which shows that caller only the servers the policies allow them (`engine.portal`).

The protected-resource metadata document lists the authorization servers named in the
`CODEMODE_AUTHORIZATION_SERVERS` environment variable (space- or comma-separated URLs); with
none configured the list is empty and clients fall back to the API key they were given.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import anyio
import anyio.abc
from mcp.server.streamable_http_manager import (
    DEFAULT_SESSION_IDLE_TIMEOUT,
    StreamableHTTPSessionManager,
)
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.auth import ANONYMOUS, Principal
from engine.config import CodeMode, Config, ConfigError, ConfigProblem
from engine.credentials import CredentialError, api_key_names, hash_api_key
from engine.gateway import Gateway
from engine.portal import Portal
from engine.selection import Selections
from engine.server.admin import AdminAuth, admin_routes
from engine.server.client_toggles import Toggles
from engine.server.connections import ConnectionsPage
from engine.server.health import HEALTH_PATHS, Health, store_unavailable
from engine.server.homepage import homepage_routes
from engine.server.mcp_server import (
    CALLER,
    PRINCIPAL_SCOPE_KEY,
    USER_SCOPE_KEY,
    PortalServer,
    build_server,
)
from engine.server.oauth import AuthServer, AuthTarget, request_origin
from engine.server.people import TokenPeople
from engine.server.portal_servers import GRANT_SCOPE_KEY
from engine.server.request_ids import RequestIdCheck
from engine.server.sessions import SchemeSessions
from engine.server.signin import IdentityWeb
from engine.server.stream_guard import StreamGuard
from engine.server.upstream_auth import UpstreamAuthFlows
from engine.store import StoreUnavailable
from engine.surfaces import SURFACE_PARAMETERS, Surface, SurfaceError, surface_for

AUTHORIZATION_SERVERS_ENV: Final = "CODEMODE_AUTHORIZATION_SERVERS"
METADATA_PREFIX: Final = "/.well-known/oauth-protected-resource"
LOCAL_HOSTS: Final = ("localhost", "127.0.0.1", "[::1]")


@dataclass(eq=False)
class Endpoint:
    server: PortalServer
    manager: StreamableHTTPSessionManager
    removed: bool = False
    """Its portal left the config: stopped, or never to start."""
    scope: anyio.CancelScope | None = None
    """Around the manager's run, while it runs."""
    ready: anyio.Event | None = None
    """For an endpoint started while serving (a portal added live): set once its manager
    runs, which refuses requests before."""

    def stop(self) -> None:
        self.removed = True
        if self.scope is not None:
            self.scope.cancel()


class HostOriginCheck:
    """ASGI middleware: refuse every HTTP request whose Host (421) or Origin (403) is not
    allowed by `settings`, before any route sees it. Lifespan events pass through."""

    def __init__(self, app: ASGIApp, settings: TransportSecuritySettings) -> None:
        self.app = app
        self.check = TransportSecurityMiddleware(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Health checks answer any Host: a balancer names the replica by its address, and
        # they reveal nothing a rebinding page could use (engine.server.health).
        if scope["type"] in ("http", "websocket") and scope["path"] not in HEALTH_PATHS:
            refusal = await self.check.validate_request(Request(scope, receive))
            if refusal is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


class PortalRouter:
    """The ASGI endpoint behind `/mcp` and `/p/{portal_id}/mcp`."""

    def __init__(
        self,
        gateway: Gateway,
        *,
        security: TransportSecuritySettings,
        max_body_bytes: int,
        progress_interval_s: float,
        session_idle_timeout_s: float | None,
    ) -> None:
        self.gateway = gateway
        self.max_body_bytes = max_body_bytes
        signs_in = gateway.store is not None and gateway.config.identity is not None
        self.people = TokenPeople(gateway.store) if signs_in and gateway.store else None
        self.guard = StreamGuard(gateway.store) if signs_in and gateway.store else None
        self.selections = (
            Selections(gateway.store.selections) if signs_in and gateway.store else None
        )
        self.key_names = _key_names(gateway.config)
        gateway.on_reload(self._reloaded)
        self._security = security
        self._progress_interval_s = progress_interval_s
        self._session_idle_timeout_s = session_idle_timeout_s
        self._task_group: anyio.abc.TaskGroup | None = None
        self.endpoints: dict[tuple[str, Surface], Endpoint] = {}
        for portal in gateway.portals.values():
            self._add_endpoints(portal)

    def _add_endpoints(self, portal: Portal) -> None:
        # Every surface, whatever the portal's `code_mode`: the policy applies live (a reload
        # can change it) by choosing among them in `_route`.
        for surface in Surface:
            server = build_server(
                portal,
                surface,
                progress_interval_s=self._progress_interval_s,
                session_idle_timeout_s=self._session_idle_timeout_s,
                selections=self.selections,
            )
            manager = StreamableHTTPSessionManager(
                server,
                security_settings=self._security,
                max_request_body_size=self.max_body_bytes,
                session_idle_timeout=self._session_idle_timeout_s,
            )
            endpoint = self.endpoints[(portal.id, surface)] = Endpoint(server, manager)
            if self._task_group is not None:
                endpoint.ready = anyio.Event()
                self._task_group.start_soon(self._run_endpoint, endpoint)

    def _follow_portals(self) -> None:
        """Endpoints for the gateway's portals as they now are: a new portal's are built and
        started; a removed portal's are stopped (its sessions end; their next request is a
        404 naming the portals there are)."""
        for key, endpoint in list(self.endpoints.items()):
            if self.gateway.portals.get(key[0]) is not endpoint.server.portal:
                del self.endpoints[key]
                endpoint.stop()
        for portal in self.gateway.portals.values():
            if (portal.id, Surface.ALL) not in self.endpoints:
                self._add_endpoints(portal)

    async def _run_endpoint(
        self,
        endpoint: Endpoint,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        started = False
        try:
            if endpoint.removed:
                return
            with anyio.CancelScope() as endpoint.scope:
                async with endpoint.manager.run():
                    if endpoint.ready is not None:
                        endpoint.ready.set()
                    started = True
                    task_status.started()
                    await anyio.sleep_forever()
        finally:
            endpoint.scope = None
            if not started:  # stopped before it ran: nobody waits in vain
                if endpoint.ready is not None:
                    endpoint.ready.set()
                task_status.started()

    def _reloaded(self, config: Config) -> Callable[[], None]:
        """The reload hook: the API keys of `config` (`api_keys_file` re-read), and the
        portals' names and descriptions in what `initialize` answers."""
        try:
            names = _key_names(config)
        except CredentialError as exc:
            raise ConfigError([ConfigProblem("", str(exc))], "the reloaded config") from None

        def commit() -> None:
            self.key_names = names
            self._follow_portals()
            for endpoint in self.endpoints.values():
                endpoint.server.describe_portal()

        return commit

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run every endpoint's session manager, and those of portals a reload adds."""
        async with anyio.create_task_group() as task_group:
            for endpoint in list(self.endpoints.values()):
                await task_group.start(self._run_endpoint, endpoint)
            if self.guard is not None:
                task_group.start_soon(self.guard.patrol)
            self._task_group = task_group
            try:
                yield
            finally:
                self._task_group = None
                task_group.cancel_scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Host and Origin were checked by HostOriginCheck, which wraps the whole app.
        request = Request(scope, receive)
        answer = await self._route(request)
        if isinstance(answer, Response):
            await answer(scope, receive, send)
            return
        endpoint, principal = answer
        scope[PRINCIPAL_SCOPE_KEY] = principal
        scope[USER_SCOPE_KEY] = principal.user
        CALLER.set(principal)  # this request's task only: each ASGI call runs in its own
        session_id = request.headers.get("mcp-session-id")
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        if endpoint.ready is not None:
            await endpoint.ready.wait()  # a portal added a moment ago: its manager is starting
        if endpoint.removed:  # its portal was removed as the request came
            await _error(404, "this portal was removed")(scope, receive, send)
            return
        handler = RequestIdCheck(endpoint.manager.handle_request, self.max_body_bytes)
        with endpoint.server.sessions.busy(session_id):
            if self.guard is None or principal.kind != "person":
                await handler(scope, receive, watched)
            else:  # a portal token's request: ended if it is revoked (on any replica)
                _, _, token = request.headers.get("authorization", "").partition(" ")
                await self.guard.serve(token.strip(), handler, scope, receive, watched)
        # Ended by the client, or unknown to the transport (it ended the session itself).
        if session_id and (request.method == "DELETE" or status == 404):
            endpoint.server.sessions.forget(session_id)

    async def _route(self, request: Request) -> tuple[Endpoint, Principal] | Response:
        portal = self.portal_for(
            request.headers.get("host", ""), request.path_params.get("portal_id")
        )
        if isinstance(portal, Response):
            return portal
        principal = await self._authenticate(request, portal)
        if isinstance(principal, Response):
            return principal
        access = portal.access(principal)
        if access is not None and not access.allowed:
            return _error(403, access.refusal() or "not allowed")
        try:
            # Before the session shortcut: a repeated parameter is refused with or without a
            # session id, under every policy.
            _refuse_repeated_surface_parameters(request)
            session = self._session_endpoint(portal, request.headers.get("mcp-session-id"))
            if session is not None:
                return session, principal
            surface = _surface(request, portal.config.code_mode)
        except SurfaceError as exc:
            return _error(400, str(exc))
        return self.endpoints[(portal.id, surface)], principal

    def _session_endpoint(self, portal: Portal, session_id: str | None) -> Endpoint | None:
        """The endpoint holding session `session_id`, if one of `portal`'s does: a session
        stays on the surface it was opened on, even when a reload has changed the portal's
        `code_mode` since (its `code`/`execute` calls are then refused by the server)."""
        if not session_id:
            return None
        for surface in Surface:
            endpoint = self.endpoints[(portal.id, surface)]
            if session_id in endpoint.server.sessions:
                return endpoint
        return None

    def portal_for(self, host: str, portal_id: str | None) -> Portal | Response:
        by_host = self.gateway.portal_for_host(host)
        if portal_id is None:
            if by_host is not None:
                return by_host
            if not self.gateway.portals:
                return _error(404, "this server has no portals configured")
            return next(iter(self.gateway.portals.values()))
        portal = self.gateway.portals.get(portal_id)
        if portal is None or (by_host is not None and by_host is not portal):
            known = ", ".join(self.gateway.portals) or "none"
            return _error(404, f"no portal {portal_id!r} here (portals: {known})")
        return portal

    async def _authenticate(self, request: Request, portal: Portal) -> Principal | Response:
        """Who is calling: the service its API key names (found by the key's hash, never the
        key); with `[identity]`, the person a portal token (issued for this very URL) names;
        the anonymous caller of a portal without keys and without `[identity]`; or a 401."""
        names = self.key_names.get(portal.id)
        people = self.people
        if not names and people is None:
            return ANONYMOUS
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and key.strip():
            if names:
                digest = hash_api_key(key.strip())
                # Compare against every hash so the time taken does not say which one matched.
                matched = [h for h in sorted(names) if hmac.compare_digest(digest, h)]
                if matched:
                    return Principal.for_service(names[matched[0]])
            if people is not None:
                person = await people.principal(key.strip(), _resource(request))
                if person is not None:
                    await self._note_grant(request, key.strip())
                    return person
                return _unauthorized(request, "invalid_token", "the token is not valid here")
            return _unauthorized(request, "invalid_token", "the API key is not valid here")
        if people is not None:
            return _unauthorized(request, None, f"portal {portal.id!r} needs you to sign in")
        return _unauthorized(
            request, None, f"portal {portal.id!r} needs an API key: Authorization: Bearer <key>"
        )

    async def _note_grant(self, request: Request, token: str) -> None:
        """Put the token's client grant in the scope, for the per-client server selection
        (`engine.server.portal_servers`). The token was just verified: a cache hit."""
        assert self.people is not None
        info = await self.people.store.grants.verify_access_token(token)
        if info is not None:
            request.scope[GRANT_SCOPE_KEY] = info.grant_id


def _key_names(config: Config) -> dict[str, dict[str, str]]:
    """Each portal's API keys: digest -> service name (`engine.credentials.api_key_names`)."""
    return {portal.id: api_key_names(portal) for portal in config.portals}


def _refuse_repeated_surface_parameters(request: Request) -> None:
    """Raise SurfaceError when a surface parameter is given more than once: the query mapping
    would silently keep the last value (and a client could open a session on one surface and
    move it to another). Checked for every request, whether or not it carries a session id."""
    for key in SURFACE_PARAMETERS:
        count = len(request.query_params.getlist(key))
        if count > 1:
            raise SurfaceError(f"{key} is given {count} times; give it once")


def _surface(request: Request, code_mode: CodeMode) -> Surface:
    """The surface the query string gives under the portal's `code_mode` (`surface_for`). A
    parameter given twice is refused: the query mapping would silently keep the last value."""
    _refuse_repeated_surface_parameters(request)
    return surface_for(request.query_params, code_mode)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _resource(request: Request) -> str:
    """The resource (RFC 8707) a request to `/mcp` or `/p/<id>/mcp` is for: its URL without
    the query, as the portal's authorization server binds tokens to it."""
    return f"{request_origin(request)}{request.url.path}"


def _unauthorized(request: Request, error: str | None, message: str) -> JSONResponse:
    metadata = f"{_base_url(request)}{METADATA_PREFIX}{request.url.path}"
    challenge = f'Bearer resource_metadata="{metadata}"'
    if error:
        challenge += f', error="{error}", error_description="{message}"'
    return _error(401, message, {"WWW-Authenticate": challenge})


def authorization_servers() -> list[str]:
    return [u for u in re.split(r"[\s,]+", os.environ.get(AUTHORIZATION_SERVERS_ENV, "")) if u]


def _metadata_route(router: PortalRouter, auth: AuthServer | None) -> BaseRoute:
    """RFC 9728 protected-resource metadata for `/mcp` and `/p/<id>/mcp`: with `[identity]`
    the portal's own authorization server, else those of `CODEMODE_AUTHORIZATION_SERVERS`."""

    async def metadata(request: Request) -> Response:
        resource_path = "/" + request.path_params["resource"]
        match = re.fullmatch(r"/p/([^/]+)/mcp", resource_path)
        if resource_path != "/mcp" and match is None:
            return _error(404, f"no protected resource at {resource_path}")
        portal = router.portal_for(
            request.headers.get("host", ""), match.group(1) if match else None
        )
        if isinstance(portal, Response):
            return portal
        if auth is not None:
            prefix = "" if match is None else f"/p/{portal.id}"
            target = AuthTarget(portal, request_origin(request), prefix)
            return JSONResponse(
                auth.protected_resource(target), headers={"Cache-Control": "max-age=300"}
            )
        document: dict[str, Any] = {
            "resource": f"{_base_url(request)}{resource_path}",
            "authorization_servers": authorization_servers(),
            "bearer_methods_supported": ["header"],
            "resource_name": portal.config.name,
        }
        return JSONResponse(document, headers={"Cache-Control": "max-age=300"})

    return Route(METADATA_PREFIX + "/{resource:path}", metadata, methods=["GET"])


def security_settings(gateway: Gateway, public_hosts: Sequence[str]) -> TransportSecuritySettings:
    """Hosts and origins allowed to reach any route: localhost, portal hostnames, public hosts."""
    return _security_for(gateway.config, public_hosts)


def _follow_hostnames(
    security: TransportSecuritySettings, public_hosts: Sequence[str]
) -> Callable[[Config], Callable[[], None]]:
    """The reload hook that keeps `security` (shared by every check) at the portals'
    hostnames as they run: a portal added with a hostname is reachable at once."""

    def hook(config: Config) -> Callable[[], None]:
        fresh = _security_for(config, public_hosts)

        def commit() -> None:
            security.allowed_hosts[:] = fresh.allowed_hosts
            security.allowed_origins[:] = fresh.allowed_origins

        return commit

    return hook


def _security_for(config: Config, public_hosts: Sequence[str]) -> TransportSecuritySettings:
    names = [*LOCAL_HOSTS]
    names += [p.hostname for p in config.portals if p.hostname]
    names += list(public_hosts)
    hosts = [h for name in names for h in (name, f"{name}:*")]
    origins = [
        o for s in ("http", "https") for name in names for o in (f"{s}://{name}", f"{s}://{name}:*")
    ]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def create_app(
    gateway: Gateway,
    *,
    admin_token: str | None = None,
    max_body_bytes: int = 4 * 1024 * 1024,
    public_hosts: Sequence[str] = (),
    progress_interval_s: float = 1.0,
    session_idle_timeout_s: float | None = DEFAULT_SESSION_IDLE_TIMEOUT,
) -> Starlette:
    """The ASGI app serving `gateway`'s portals. Its lifespan runs the MCP session managers;
    the caller enters and leaves the gateway itself (`async with Gateway(config)`).

    `public_hosts`: extra Host names (`name` or `name:port`) this server answers to besides
    localhost and the portals' hostnames, e.g. the address of a reverse proxy.
    `progress_interval_s`: heartbeat period of progress notifications during code runs.
    `session_idle_timeout_s`: a 2025-era session with no request in flight (and no open GET
    stream) for this long is ended; None keeps sessions until the client deletes them.
    """
    security = security_settings(gateway, public_hosts)
    gateway.on_reload(_follow_hostnames(security, public_hosts))
    router = PortalRouter(
        gateway,
        security=security,
        max_body_bytes=max_body_bytes,
        progress_interval_s=progress_interval_s,
        session_idle_timeout_s=session_idle_timeout_s,
    )

    flows = None
    # With the store, not only with an `oauth` server now: the admin API may add one later.
    if gateway.store is not None:
        flows = UpstreamAuthFlows(
            gateway, gateway.store.upstream_tokens, gateway.store.upstream_flows
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with router.running():
            if flows is None:
                yield
                return
            async with flows.running():
                yield

    auth: AuthServer | None = None
    identity_routes: list[BaseRoute] = []
    middleware = [Middleware(HostOriginCheck, settings=security)]
    form_sources: list[str] | None = None
    # The store is also open for named admin tokens alone (`[admin]`): sign-in needs [identity].
    if gateway.store is not None and gateway.config.identity is not None:
        auth = AuthServer(gateway.store, router.portal_for)
        web = IdentityWeb(gateway, gateway.store, router.portal_for)
        identity_routes = [*auth.routes(), *web.routes()]
        if flows is not None:
            toggles = None
            if router.selections is not None:
                toggles = Toggles(gateway.store.grants, router.selections)
            page = ConnectionsPage(gateway, gateway.store.upstream_tokens, flows, toggles)
            identity_routes += page.routes()
        form_sources = web.form_sources()
        middleware.append(Middleware(SchemeSessions, secret_key=gateway.store.cookie_key()))
    health = Health(gateway)
    routes: list[BaseRoute] = [
        *health.routes(),
        Route("/mcp", router),
        Route("/p/{portal_id}/mcp", router),
        _metadata_route(router, auth),
        *identity_routes,
        *homepage_routes(gateway, form_sources),
        *admin_routes(gateway, admin_token),
        *(flows.routes(AdminAuth(gateway, admin_token)) if flows is not None else []),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers={StoreUnavailable: store_unavailable},
    )
    app.state.portal_router = router
    app.state.health = health
    return app
