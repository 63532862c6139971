"""The MCP server for one portal in one surface, on the `mcp` SDK's low-level server.

```python
server = build_server(portal, Surface.CODEMODE)
# over HTTP: engine.server.app.create_app(gateway) runs one per (portal, surface)
# over stdio:
async with stdio_server() as (read, write):
    await server.run(read, write, server.create_initialization_options())
```

It answers `tools/list`, `tools/call`, `prompts/list`, `prompts/get`, `logging/setLevel` and
`ping` for both protocol eras. Upstream tool or prompt list changes reach clients as
`notifications/tools/list_changed` / `prompts/list_changed`: on the 2025-11-25 era on each
live session's standalone stream, on the 2026-07-28 era through `subscriptions/listen`.
During a `code`/`execute` run, sandbox console lines go to the client as
`notifications/message` and a heartbeat goes out as `notifications/progress` when the client
sent a progress token.

Log notifications an upstream server sends (`notifications/message`) go to every live
2025-11-25 session at or above the level it set with `logging/setLevel`, on its standalone
stream, with `logger` set to the server id (`<server>/<upstream logger>` when it named one).
2026-07-28 clients have no standing stream for them and do not get them (they still get the
console lines of their own runs). Upstream lines waiting to be sent are bounded
(`MAX_PENDING_UPSTREAM_LOGS`); beyond that they are dropped, so a flooding upstream cannot
grow our memory.

The 2025-era sessions and their levels are tracked by `engine.server.live_sessions`; the
console lines and heartbeat of one run are sent by `engine.server.run_feedback`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from typing import Any, Final

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.connection import allowed_log_levels
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    PromptsListChanged,
    ResourcesListChanged,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request

from engine import surfaces
from engine.approval import ApprovalPending
from engine.auth import ANONYMOUS, Principal
from engine.person_sessions import Connector, ConnectPending
from engine.portal import Portal, PortalError
from engine.selection import Selections
from engine.server.approvals import (
    STATE_TTL_S,
    Eliciting,
    Ledger,
    Rounds,
    approver_for,
    sealed_state,
)
from engine.server.live_sessions import LOG_LEVELS, Ctx, LiveSessions, session_key
from engine.server.new_servers import ask_about_new_servers
from engine.server.portal_servers import PORTAL_SERVERS, PORTAL_SERVERS_TOOL, ServerChoices
from engine.server.resource_watch import ResourceListenHandler, ResourceWatch
from engine.server.run_feedback import RunFeedback
from engine.server.url_connect import connector_for, origin_of, pending_of, url_required
from engine.server.url_connect import input_required as connect_input_required
from engine.status import UpstreamError
from engine.surfaces import Surface

log = logging.getLogger("codemode.mcp_server")

USER_SCOPE_KEY: Final = "codemode.user"
"""ASGI scope key where the HTTP app puts the request log's user (the caller's email or API
key name; None for an anonymous caller)."""

PRINCIPAL_SCOPE_KEY: Final = "codemode.principal"
"""ASGI scope key where the HTTP app puts the caller (`engine.auth.Principal`)."""

CALLER: ContextVar[Principal | None] = ContextVar("codemode.caller", default=None)
"""The caller of the HTTP request being handled, for the SDK's lookups that get no request
(`get_tool_input_schema`): set by the HTTP app around each request; None off HTTP."""

MAX_PENDING_UPSTREAM_LOGS: Final = 1000
"""Upstream log notifications waiting to be sent per portal server; beyond that: dropped."""

_UpstreamLog = tuple[str, types.LoggingMessageNotificationParams]
"""(server id, params) of one upstream `notifications/message`."""

_ResourceEvent = tuple[str, str]
"""(server id, upstream URI) of an update; ("", session key) of a session that ended."""


def principal_of(ctx: Ctx) -> Principal | None:
    """Who sent this message: over HTTP the principal the app put in the scope (anonymous if
    it put none: an app that did not authenticate gets only what needs no policy); off HTTP
    (stdio) None, the local operator, who sees every server."""
    request = ctx.request
    if isinstance(request, Request):
        principal = request.scope.get(PRINCIPAL_SCOPE_KEY)
        return principal if isinstance(principal, Principal) else ANONYMOUS
    return None


def user_of(ctx: Ctx) -> str | None:
    request = ctx.request
    if isinstance(request, Request):
        user = request.scope.get(USER_SCOPE_KEY)
        return user if isinstance(user, str) else None
    return None


# -- the server -------------------------------------------------------------------------------


class PortalServer(Server[Any]):
    """One portal in one surface. Build it with `build_server`."""

    def __init__(
        self,
        portal: Portal,
        surface: Surface,
        *,
        progress_interval_s: float,
        session_idle_timeout_s: float | None,
        selections: Selections | None = None,
    ) -> None:
        self.portal = portal
        self.surface = surface
        self.progress_interval_s = progress_interval_s
        self.bus = InMemorySubscriptionBus()
        self.sessions = LiveSessions(
            idle_timeout_s=session_idle_timeout_s, on_forget=self._session_ended
        )
        self.watch = ResourceWatch(portal)
        self.listen = ResourceListenHandler(self.bus, portal, principal_of)
        self.choices = ServerChoices(portal, surface, selections, principal_of)
        self.choices.announce_on(self.bus, self.sessions)
        self._change_streams: set[MemoryObjectSendStream[None]] = set()
        self._log_streams: set[MemoryObjectSendStream[_UpstreamLog]] = set()
        self._resource_streams: set[MemoryObjectSendStream[_ResourceEvent]] = set()
        self._announced = self._signatures()
        self._schemas: tuple[object, dict[str, Mapping[str, Any]]] = (None, {})
        super().__init__(
            "codemode",
            version=_version(),
            title=portal.config.name,
            description=portal.config.description or None,
            instructions=_instructions(portal, surface),
            lifespan=_lifespan,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
            on_subscribe_resource=self._subscribe,
            on_unsubscribe_resource=self._unsubscribe,
            on_subscriptions_listen=self.listen,
            get_tool_input_schema=self._input_schema,
        )
        # Registered this way, not as `on_set_logging_level=`, to avoid the constructor's
        # deprecation warning: 2025-era clients still use it and it is still advertised.
        self.add_request_handler("logging/setLevel", types.SetLevelRequestParams, self._set_level)
        self.middleware.append(self.sessions.middleware)
        self.middleware.append(self.choices.middleware)
        # 2026-era approval rounds: the request state the client echoes is sealed and bound.
        self.middleware.append(sealed_state(f"codemode/{portal.id}/{surface.value}", user_of))
        self.approval_ledger = Ledger(ttl_s=STATE_TTL_S + 60)
        portal.on_tools_changed(self._portal_changed)
        portal.on_upstream_log(self._upstream_log)
        portal.on_resource_updated(self._resource_updated)

    def describe_portal(self) -> None:
        """Take the portal's name and description again (a reloaded config), for what the
        next `initialize` answers."""
        self.title = self.portal.config.name
        self.description = self.portal.config.description or None
        self.instructions = _instructions(self.portal, self.surface)

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        # 2025-era clients learn listChanged from initialize; the SDK leaves it off by default.
        return super().create_initialization_options(
            notification_options
            or NotificationOptions(
                tools_changed=True, prompts_changed=True, resources_changed=True
            ),
            experimental_capabilities,
            extensions,
        )

    # -- handlers -----------------------------------------------------------------------------

    async def _list_tools(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        disabled = await self.choices.disabled(ctx)
        tools = self.portal.list_tools(self.surface, principal_of(ctx), disabled)
        if self.choices.listed(ctx):
            tools.append(PORTAL_SERVERS_TOOL)
        return types.ListToolsResult(tools=tools)

    def _input_schema(self, name: str) -> Mapping[str, Any] | None:
        """The inputSchema of tool `name` as the caller's `tools/list` shows it, for the SDK's
        check of a 2026-era call's `Mcp-Param-*` headers. Without this lookup the SDK runs the
        whole `tools/list` handler through its pipeline on every `tools/call` to find it; here
        it is a dict read, the index rebuilt only when the portal's view (its catalog snapshot)
        is replaced. A tool hidden from the caller has no schema here (None: nothing to check),
        so a header check cannot tell them that it exists."""
        view = self.portal.view
        if self._schemas[0] is not view:
            tools = self.portal.list_tools(self.surface)
            self._schemas = (view, {t.name: t.input_schema for t in tools})
        schema = self._schemas[1].get(name)
        caller = CALLER.get()
        if schema is None or caller is None:
            return schema
        access = self.portal.access(caller)
        return schema if access is None or self.portal.view_for(access).tool(name) else None

    async def _list_prompts(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        disabled = await self.choices.disabled(ctx)
        return types.ListPromptsResult(
            prompts=self.portal.list_prompts(principal_of(ctx), disabled)
        )

    async def _get_prompt(
        self, ctx: Ctx, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        try:
            return await self.portal.get_prompt(
                params.name, params.arguments, principal_of(ctx), await self.choices.disabled(ctx)
            )
        except PortalError as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        except UpstreamError as exc:
            raise MCPError(types.INTERNAL_ERROR, exc.message) from None

    async def _list_resources(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        disabled = await self.choices.disabled(ctx)
        resources = self.portal.list_resources(principal_of(ctx), disabled)
        return types.ListResourcesResult(resources=resources)

    async def _list_resource_templates(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        disabled = await self.choices.disabled(ctx)
        templates = self.portal.list_resource_templates(principal_of(ctx), disabled)
        return types.ListResourceTemplatesResult(resource_templates=templates)

    async def _read_resource(
        self, ctx: Ctx, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        try:
            disabled = await self.choices.disabled(ctx)
            return await self.portal.read_resource(
                params.uri, principal_of(ctx), user_of(ctx), disabled
            )
        except PortalError as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        except UpstreamError as exc:
            raise MCPError(types.INTERNAL_ERROR, exc.message) from None

    async def _subscribe(self, ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        key = session_key(ctx)
        if key is None:
            raise MCPError(types.INVALID_REQUEST, "resources/subscribe needs a session")
        disabled = await self.choices.disabled(ctx)
        await self.watch.subscribe(key, params.uri, principal_of(ctx), disabled)
        return types.EmptyResult()

    async def _unsubscribe(
        self, ctx: Ctx, params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        key = session_key(ctx)
        if key is not None:
            await self.watch.unsubscribe(key, params.uri)
        return types.EmptyResult()

    async def _set_level(self, ctx: Ctx, params: types.SetLevelRequestParams) -> types.EmptyResult:
        self.sessions.set_level(session_key(ctx), params.level)
        return types.EmptyResult()

    async def _call_tool(
        self, ctx: Ctx, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        user, principal = user_of(ctx), principal_of(ctx)
        timeout_s = self.portal.services.config.settings.approval_timeout_s
        approver = approver_for(ctx, params, user, self.approval_ledger, timeout_s)
        connector = self._connector(ctx, params, principal)
        people = self.portal.services.catalog.people
        asking = await ask_about_new_servers(
            ctx, self.portal, people, principal, origin_of(ctx), timeout_s
        )
        if asking is not None:  # 2026 era: new servers to connect, asked in this round
            return asking
        result: types.CallToolResult | None = None
        # A direct call on a 2026-era request that needs approval: ask in this round's result.
        with suppress(ApprovalPending):
            try:
                result = await self._answer_call(ctx, params, user, principal, approver, connector)
            except ConnectPending as pending:  # 2026 era: ask for the connection this round
                return connect_input_required(pending)
        if isinstance(approver, Rounds) and approver.asking is not None:
            # A run that stopped to ask, too: its result is replaced by the question.
            return approver.input_required()
        needed = pending_of(connector)
        if needed is not None:  # a run that stopped to ask the person to connect a server
            if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
                return connect_input_required(ConnectPending(needed))
            raise url_required(needed)
        assert result is not None  # only a 2026-era approver raises ApprovalPending
        return result

    async def _answer_call(
        self,
        ctx: Ctx,
        params: types.CallToolRequestParams,
        user: str | None,
        principal: Principal | None,
        approver: Eliciting | Rounds,
        connector: Connector | None,
    ) -> types.CallToolResult:
        if params.name == PORTAL_SERVERS and self.choices.listed(ctx):
            return await self.choices.call_tool(ctx, params.arguments)
        disabled = await self.choices.disabled(ctx)
        if not surfaces.is_code_tool(self.surface, params.name):
            return await self.portal.call_tool(
                self.surface,
                params.name,
                params.arguments,
                user=user,
                principal=principal,
                approver=approver,
                origin=origin_of(ctx),
                connector=connector,
                disabled=disabled,
                portal_ops=self.choices.ops(ctx),
            )
        if not self.portal.config.code_mode.runs_code:
            # A session opened before a reload turned code mode off keeps its surface.
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=code_mode_off(self.portal.id))],
                is_error=True,
            )
        feedback = RunFeedback(ctx, self._min_level(ctx), self.progress_interval_s)
        async with feedback.running() as on_log:
            return await self.portal.call_tool(
                self.surface,
                params.name,
                params.arguments,
                user=user,
                principal=principal,
                on_log=on_log,
                approver=approver,
                origin=origin_of(ctx),
                connector=connector,
                disabled=disabled,
                portal_ops=self.choices.ops(ctx),
            )

    def _connector(
        self, ctx: Ctx, params: types.CallToolRequestParams, principal: Principal | None
    ) -> Connector | None:
        settings = self.portal.services.config.settings
        people = self.portal.services.catalog.people
        runs_code = surfaces.is_code_tool(self.surface, params.name)
        run_s = settings.sandbox.timeout_s if runs_code else None
        return connector_for(
            ctx, params, people, principal, settings.approval_timeout_s, run_s=run_s
        )

    def _min_level(self, ctx: Ctx) -> types.LoggingLevel | None:
        """The lowest level to send for this call; None: send no log lines."""
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            # 2026-era: each request opts in with a log level in its `_meta` (SEP-2577).
            allowed = allowed_log_levels(ctx.protocol_version, ctx.meta)
            return min(allowed, key=LOG_LEVELS.index) if allowed else None
        return self.sessions.level(session_key(ctx))

    # -- list changes -------------------------------------------------------------------------

    def _signatures(self) -> tuple[str, str, str]:
        def dump(items: list[Any]) -> str:
            return json.dumps([i.model_dump(mode="json") for i in items], sort_keys=True)

        portal = self.portal
        return (
            dump(portal.list_tools(self.surface)),
            dump(portal.list_prompts()),
            dump([*portal.list_resources(), *portal.list_resource_templates()]),
        )

    def _portal_changed(self) -> None:
        """Called by the portal on the event loop; the announcement itself is async."""
        for stream in list(self._change_streams):
            try:
                stream.send_nowait(None)
            except anyio.WouldBlock:
                pass  # an announcement is already pending and will read the latest lists
            except anyio.ClosedResourceError:
                self._change_streams.discard(stream)

    async def _announce_changes(self, changes: MemoryObjectReceiveStream[None]) -> None:
        async for _ in changes:
            before, self._announced = self._announced, self._signatures()
            tools, prompts, resources = (
                a != b for a, b in zip(before, self._announced, strict=True)
            )
            if tools:
                await self.bus.publish(ToolsListChanged())
            if prompts:
                await self.bus.publish(PromptsListChanged())
            if resources:
                await self.bus.publish(ResourcesListChanged())
            if tools or prompts or resources:
                await self.sessions.announce(tools=tools, prompts=prompts, resources=resources)

    # -- upstream logs ------------------------------------------------------------------------

    def _upstream_log(self, server_id: str, params: types.LoggingMessageNotificationParams) -> None:
        """Called by the portal on the event loop; sending is async and may be slow."""
        for stream in list(self._log_streams):
            try:
                stream.send_nowait((server_id, params))
            except anyio.WouldBlock:
                pass  # clients are slower than the upstream: drop rather than grow
            except anyio.ClosedResourceError:
                self._log_streams.discard(stream)

    async def _send_upstream_logs(self, logs: MemoryObjectReceiveStream[_UpstreamLog]) -> None:
        async for server_id, params in logs:
            await self.sessions.broadcast_log(server_id, params)

    # -- resource updates ---------------------------------------------------------------------

    def _resource_updated(self, server_id: str, upstream_uri: str) -> None:
        """Called by the portal on the event loop; sending is async."""
        self._queue_resource_event((server_id, upstream_uri))

    def _session_ended(self, key: str) -> None:
        self.choices.forget(key)
        self._queue_resource_event(("", key))

    def _queue_resource_event(self, event: _ResourceEvent) -> None:
        for stream in list(self._resource_streams):
            try:
                stream.send_nowait(event)
            except anyio.WouldBlock:
                log.warning("resource updates queue full; one dropped")
            except anyio.ClosedResourceError:
                self._resource_streams.discard(stream)

    async def _send_resource_events(
        self, events: MemoryObjectReceiveStream[_ResourceEvent]
    ) -> None:
        async for server_id, value in events:
            if not server_id:
                await self.watch.drop(value)
                continue
            await self.watch.deliver(server_id, value, self.sessions.session)
            await self.listen.publish_updated(server_id, value)

    @asynccontextmanager
    async def announcing(self) -> AsyncIterator[None]:
        """Announce list changes and pass upstream logs on while this is entered (the server's
        lifespan enters it)."""
        send, receive = anyio.create_memory_object_stream[None](1)
        send_log, receive_log = anyio.create_memory_object_stream[_UpstreamLog](
            MAX_PENDING_UPSTREAM_LOGS
        )
        send_res, receive_res = anyio.create_memory_object_stream[_ResourceEvent](
            MAX_PENDING_UPSTREAM_LOGS
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._announce_changes, receive)
            tg.start_soon(self._send_upstream_logs, receive_log)
            tg.start_soon(self._send_resource_events, receive_res)
            self._change_streams.add(send)
            self._log_streams.add(send_log)
            self._resource_streams.add(send_res)
            try:
                async with self.choices.announcing():
                    yield
            finally:
                self._change_streams.discard(send)
                self._log_streams.discard(send_log)
                self._resource_streams.discard(send_res)
                send.close()
                send_log.close()
                send_res.close()
                tg.cancel_scope.cancel()


@asynccontextmanager
async def _lifespan(server: Server[Any]) -> AsyncIterator[dict[str, Any]]:
    assert isinstance(server, PortalServer)
    async with server.announcing():
        yield {}


def build_server(
    portal: Portal,
    surface: Surface,
    *,
    progress_interval_s: float = 1.0,
    session_idle_timeout_s: float | None = None,
    selections: Selections | None = None,
) -> PortalServer:
    """The MCP server for `portal` in `surface` (serve over HTTP via `engine.server.app`, or stdio).

    `progress_interval_s`: how often a long `code`/`execute` run sends a progress heartbeat
    to a client that sent a progressToken. `session_idle_timeout_s`: the HTTP transport's
    idle timeout, so sessions it ended stop being tracked (None over stdio). `selections`:
    the per-client server selection (`engine.selection`; None: no client chooses).
    """
    return PortalServer(
        portal,
        surface,
        progress_interval_s=progress_interval_s,
        session_idle_timeout_s=session_idle_timeout_s,
        selections=selections,
    )


def _instructions(portal: Portal, surface: Surface) -> str:
    intro = portal.config.description or f"The {portal.config.name} MCP portal."
    how = {
        Surface.ALL: "Every tool of the portal is listed.",
        Surface.MINIMIZE_TOOLS: "Tools are listed by name only: use `query` to see a tool's "
        "description and input schema before calling it.",
        Surface.SEARCH_AND_EXECUTE: "Use `query` to find tools, then `execute` to run "
        "JavaScript that calls them.",
        Surface.CODEMODE: "Use `code` to run JavaScript that finds and calls the portal's tools.",
    }[surface]
    return f"{intro}\n{how}"


def code_mode_off(portal_id: str) -> str:
    """What a `code`/`execute` call gets on a portal whose `code_mode` is now `off`."""
    return (
        f'code mode is off on portal {portal_id!r} (code_mode = "off"): no code runs here. '
        "Reconnect to get this portal's plain tools and call them directly."
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("codemode-engine")
    except PackageNotFoundError:
        return "0"
