"""`Portal`: one curated portal over shared upstream connections, for any of the surfaces.

```python
config = Config.load("portal.toml")
async with Gateway.for_portal(config) as portal:  # connects every upstream concurrently
    tools = portal.list_tools(Surface.CODEMODE)
    result = await portal.call_tool(Surface.CODEMODE, "code", {"code": "..."}, user="ana")
    portal.status()
```
Who is asking: `list_tools`, `list_prompts`, `get_prompt`, `call_tool` and the resource
methods (`list_resources`, `list_resource_templates`, `read_resource`, `subscribe_resource`) take a
`principal` (`engine.auth.Principal`); the portal's and servers' `policies` decide which of
its servers that caller sees (`engine.auth.access`), and everything they are shown or may
call comes from a view restricted to those servers: tools, prompts, `query`, and inside
`code` `codemode.<name>` and `codemode.search`. No principal (None) is the operator on this
machine (the CLI, stdio): every server, as before.

A portal owns nothing that runs: it is given the services it shares with the other portals
of its config (`PortalServices`: the catalog of upstream connections, the code executor, the
argument validator and the logged call path). `Gateway` builds those and keeps them running,
and hands every portal new ones when a new config is applied (`Portal.rebind`: the portal's
servers may have changed, and its view with them); a portal the new config drops is dropped.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp_types import (
    CallToolResult,
    GetPromptResult,
    LoggingMessageNotificationParams,
    Prompt,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    Tool,
)

from engine import results, surfaces, telemetry
from engine.approval import Approver
from engine.auth import Access, Principal, portal_access
from engine.calls import Caller, ToolCalls, result_size
from engine.catalog import Catalog
from engine.config import Config, PortalConfig
from engine.curation import CuratedTool, curate_portal
from engine.executor import CodeExecutor
from engine.person_sessions import Connector
from engine.requestlog import RequestRecord
from engine.resource_bridge import MAX_FOUND_LISTED, resources_found
from engine.resource_curation import (
    Route,
    RouteError,
    curate_portal_resources,
    qualify_contents,
    split_qualified,
)
from engine.selection import PortalOps, disabled_note, disabled_tool_message, portal_found
from engine.status import ServerState, ServerStatus, UpstreamError
from engine.surfaces import Surface
from engine.validation import ArgumentError, ArgumentValidator
from engine.view import DEFAULT_SEARCH_LIMIT, PortalView, resource_json
from sandbox import LogEntry

log = logging.getLogger("codemode.portal")


class PortalError(LookupError):
    """A portal or prompt that does not exist; the message lists what does."""


@dataclass(frozen=True)
class PortalServices:
    """What the portals of one config share; built and kept running by `Gateway`."""

    config: Config
    catalog: Catalog
    executor: CodeExecutor
    validator: ArgumentValidator
    calls: ToolCalls


class Portal:
    def __init__(self, portal_id: str, services: PortalServices) -> None:
        self.config = pick_portal(services.config, portal_id)
        self.id = self.config.id
        self.services = services
        self._server_ids = [ref.server_id for ref in self.config.servers]
        self._listeners: list[Callable[[], None]] = []
        self._log_listeners: list[Callable[[str, LoggingMessageNotificationParams], None]] = []
        self._updated_listeners: list[Callable[[str, str], None]] = []
        self.view = PortalView(curate_portal(services.config, self.config, {}), [])

    def rebind(self, services: PortalServices) -> None:
        """Use `services` from now on (a reloaded config: `Gateway.reload`) and rebuild the
        snapshot, so curation changes show and list_changed goes out when tools changed."""
        config = pick_portal(services.config, self.id)
        self.services, self.config = services, config
        self._server_ids = [ref.server_id for ref in config.servers]
        self.refresh()

    def serves(self, server_id: str) -> bool:
        return server_id in self._server_ids

    # -- who sees what ------------------------------------------------------------------------

    def access(
        self, principal: Principal | None, disabled: frozenset[str] = frozenset()
    ) -> Access | None:
        """What `principal` may do here; None for the local operator (no principal).
        `disabled`: the servers the person turned off for this client (`engine.selection`)."""
        if principal is None:
            return None
        access = portal_access(self.services.config, self.config, principal)
        return dataclasses.replace(access, disabled=disabled) if disabled else access

    def view_for(self, access: Access | None) -> PortalView:
        """The current snapshot as `access` allows it to be seen (all of it for None)."""
        view = self.view
        return view if access is None else view.restricted(access.visible)

    # -- what the portal shows ----------------------------------------------------------------

    def list_tools(
        self,
        surface: Surface,
        principal: Principal | None = None,
        disabled: frozenset[str] = frozenset(),
    ) -> list[Tool]:
        """The tools of `surface` as `principal` sees them (without the servers `disabled`
        for their client). The engine's own tools (`query`, `code`, `execute`) stay listed
        for a caller who sees no server: calling them tells them why there is nothing
        (`NO_ALLOWED_SERVERS` and the policy ids)."""
        return surfaces.list_tools(surface, self.view_for(self.access(principal, disabled)))

    def list_prompts(
        self, principal: Principal | None = None, disabled: frozenset[str] = frozenset()
    ) -> list[Prompt]:
        return [p.prompt for p in self.view_for(self.access(principal, disabled)).prompts]

    def status(self, servers: frozenset[str] | None = None) -> dict[str, ServerStatus]:
        """Each server's status (only those in `servers` when given)."""
        every = self.services.catalog.status()
        return {
            sid: every[sid]
            for sid in self._server_ids
            if sid in every and (servers is None or sid in servers)
        }

    async def sync(self, server_id: str) -> ServerStatus:
        if server_id not in self._server_ids:
            raise PortalError(f"portal {self.id!r} has no server {server_id!r}")
        return await self.services.catalog.sync(server_id)

    def on_tools_changed(self, callback: Callable[[], None]) -> None:
        """Call `callback()` after the portal's tools or prompts changed (for list_changed)."""
        self._listeners.append(callback)

    def on_upstream_log(
        self, callback: Callable[[str, LoggingMessageNotificationParams], None]
    ) -> None:
        """Call `callback(server_id, params)` for each log notification of one of our servers."""
        self._log_listeners.append(callback)

    def upstream_log(self, server_id: str, params: LoggingMessageNotificationParams) -> None:
        """Pass an upstream's `notifications/message` on; called by the gateway."""
        for listener in list(self._log_listeners):
            try:
                listener(server_id, params)
            except Exception:
                log.debug("upstream-log listener failed", exc_info=True)

    def refresh(self) -> None:
        """Rebuild the snapshot from the catalog; called by the gateway on upstream changes."""
        catalog = self.services.catalog
        status = catalog.status()
        # Ready servers, and those in Error that keep their last good lists (an `oauth` server
        # whose credential needs a person: its calls fail naming the cause, its tools stay).
        ready = [
            s
            for s in self._server_ids
            if status.get(s) and (status[s].state is ServerState.READY or catalog.tools(s))
        ]
        tools = {sid: catalog.tools(sid) for sid in ready}
        prompts = {sid: catalog.prompts(sid) for sid in ready}
        before = self._signature(self.view)
        self.view = PortalView(
            curate_portal(self.services.config, self.config, tools, prompts),
            ready,
            resources=curate_portal_resources(
                self.services.config,
                self.config,
                {sid: catalog.resources(sid) for sid in ready},
                {sid: catalog.resource_templates(sid) for sid in ready},
            ),
        )
        if self._signature(self.view) != before:
            for listener in list(self._listeners):
                try:
                    listener()
                except Exception:
                    log.exception("tools-changed listener failed")

    @staticmethod
    def _signature(view: PortalView) -> tuple[Any, ...]:
        return (
            tuple((t.name, t.description, id(t.input_schema)) for t in view.tools),
            tuple(p.name for p in view.prompts),
            tuple(r.resource for r in view.resources),
            tuple(t.template for t in view.templates),
        )

    # -- calls --------------------------------------------------------------------------------

    async def call_tool(
        self,
        surface: Surface,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        user: str | None = None,
        principal: Principal | None = None,
        on_log: Callable[[LogEntry], None] | None = None,
        approver: Approver | None = None,
        origin: str | None = None,
        connector: Connector | None = None,
        disabled: frozenset[str] = frozenset(),
        portal_ops: PortalOps | None = None,
    ) -> CallToolResult:
        """Answer `tools/call` for `surface`, as `principal` may (None: the local operator,
        who sees every server). Never raises for bad input or upstream trouble: the agent
        gets an `isError` result that says what went wrong. `user` names the caller in the
        request log; by default the principal's email or API key name. `approver` asks the
        person about `require_approval` tools (`engine.approval`; None: such calls fail).
        `origin`: this portal's origin as the client reached it, for the URL of the page where
        a person connects an `on_behalf` server; `connector` asks them to, through their
        client (URL elicitation), when they have not.
        `disabled`: the servers the person turned off for this client; `portal_ops` answers
        `codemode.portal.*` inside code (`engine.selection`; None: not available).

        Raises:
            ApprovalPending: a 2026-era approver needs the person's answer in a new round.
        """
        arguments = arguments if arguments is not None else {}
        access = self.access(principal, disabled)
        if user is None and principal is not None:
            user = principal.user
        if access is not None:
            refusal = access.refusal()
            if refusal is not None:
                return results.tool_error(refusal)
        view = self.view_for(access)
        servers = access.visible if access is not None else None
        caller = self._caller(user, principal, approver, origin, connector)
        if surfaces.is_code_tool(surface, name):
            with telemetry.span(telemetry.CODE_RUN):
                return await self._run_code(
                    name, view, arguments, caller, on_log, servers, portal_ops, disabled
                )
        if name in surfaces.engine_tools(surface):  # `query`
            return self._query(view, arguments, selectable=portal_ops is not None)
        if surfaces.calls_upstream_directly(surface):
            tool = view.tool(name)
            if tool is not None:
                return await self._call_direct(tool, arguments, caller)
            off = self._disabled_server_of(name, access)
            if off is not None:
                return results.tool_error(disabled_tool_message(name, off))
        return results.tool_error(self._unknown_tool(surface, name, view, servers))

    def on_behalf(self) -> frozenset[str]:
        """The `oauth` servers this portal calls with each person's own token."""
        oauth = {s.id for s in self.services.config.servers if s.auth_type == "oauth"}
        return frozenset(r.server_id for r in self.config.servers if r.on_behalf) & oauth

    def _caller(
        self,
        user: str | None,
        principal: Principal | None,
        approver: Approver | None,
        origin: str | None,
        connector: Connector | None = None,
    ) -> Caller:
        if principal is None:  # the local operator: the admin credential, as before
            return Caller(self.id, user, approver)
        return Caller(
            self.id,
            user,
            approver,
            on_behalf=self.on_behalf(),
            person_id=principal.person_id if principal.kind == "person" else None,
            who=principal.describe(),
            origin=origin,
            connector=connector,
        )

    def _disabled_server_of(self, name: str, access: Access | None) -> str | None:
        """The server of tool `name` when it is one the caller turned off for this client."""
        if access is None or not access.disabled:
            return None
        tool = self.view_for(dataclasses.replace(access, disabled=frozenset())).tool(name)
        return tool.server_id if tool is not None and tool.server_id in access.disabled else None

    def _unknown_tool(
        self, surface: Surface, name: str, view: PortalView, servers: frozenset[str] | None
    ) -> str:
        listed = [t.name for t in surfaces.list_tools(surface, view)]
        shown = ", ".join(listed[:20]) + (", ..." if len(listed) > 20 else "")
        return (
            f"unknown tool {name!r} on this endpoint. Available: {shown or 'none'}."
            + self._unavailable_note(servers)
        )

    def _unavailable_note(self, servers: frozenset[str] | None = None) -> str:
        """Servers that offer no tools right now, and why: the tool may be one of theirs.
        Only servers in `servers` (when given): a hidden server is never named."""
        down = [s for s in self.status(servers).values() if s.state is not ServerState.READY]
        if not down:
            return ""
        described = "; ".join(
            f"upstream server '{s.server_id}' ({s.state.value}"
            + (f": {s.error_details.cause}" if s.error_details else "")
            + ")"
            for s in down
        )
        # Reconnecting helps unless a server refuses us (bad credentials, a broken config).
        hopeful = all(s.error_details is None or s.error_details.retryable for s in down)
        retry = " (retryable: they reconnect by themselves)" if hopeful else ""
        return f" Unavailable now, their tools are not listed: {described}{retry}."

    def _query(
        self, view: PortalView, arguments: dict[str, Any], *, selectable: bool = False
    ) -> CallToolResult:
        try:
            self.services.validator.check("query", surfaces.QUERY_TOOL.input_schema, arguments)
        except ArgumentError as exc:
            return results.tool_error(str(exc))
        query = str(arguments["query"])
        limit = int(arguments.get("limit", DEFAULT_SEARCH_LIMIT))
        matches = view.search(query, limit)
        found = resources_found(view, query, limit)
        if selectable:  # this client may choose its servers: show how, when asked about it
            found += portal_found(query)
        if not matches and not found:
            return results.tool_error(view.no_match_hint(query))
        from mcp_types import TextContent

        structured: dict[str, Any] = {"matches": [view.match_json(m) for m in matches]}
        if found:
            # Read with resources/read, or codemode.resources.read(uri) in code.
            items = view.search_resources(query, min(limit, MAX_FOUND_LISTED))
            structured["resources"] = [resource_json(item) for item in items]
        text = (view.describe_text(matches) if matches else "") + found
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=structured
        )

    async def _run_code(
        self,
        name: str,
        view: PortalView,
        arguments: dict[str, Any],
        caller: Caller,
        on_log: Callable[[LogEntry], None] | None,
        servers: frozenset[str] | None,
        portal_ops: PortalOps | None,
        disabled: frozenset[str],
    ) -> CallToolResult:
        code = arguments.get("code")
        if not isinstance(code, str) or set(arguments) - {"code"}:
            return results.tool_error(f'{name} takes {{"code": "<JavaScript>"}}')
        started = time.perf_counter()
        result: CallToolResult | None = None
        failure: str | None = "cancelled"
        try:
            result, error = await self.services.executor.run(
                code,
                view,
                self.services.calls,
                caller,
                on_log,
                unavailable=(self._unavailable_note(servers) + disabled_note(disabled)).strip(),
                portal_ops=portal_ops,
            )
            failure = f"{error.kind.value}: {error.message}" if error else None
            return result
        except Exception as exc:
            failure = f"internal: {type(exc).__name__}"
            raise
        finally:
            # Also when the run is cut (client gone, server shutdown past its grace): every
            # run leaves its row, as every upstream call does.
            record = RequestRecord(
                portal=self.id,
                kind="code_run",
                status="error" if failure else "ok",
                capability=name,
                duration_ms=(time.perf_counter() - started) * 1000,
                user=caller.user,
                request_bytes=len(code.encode()),
                response_bytes=result_size(result) if result is not None else 0,
                error=failure,
            )
            telemetry.annotate(record)
            self.services.calls.request_log.record(record)

    async def _call_direct(
        self, tool: CuratedTool, arguments: dict[str, Any], caller: Caller
    ) -> CallToolResult:
        try:
            self.services.validator.check(tool.name, tool.input_schema, arguments)
        except ArgumentError as exc:
            return results.tool_error(str(exc))
        try:
            result = await self.services.calls.call(caller, tool, arguments)
        except UpstreamError as exc:
            retry = " (retryable: try again shortly)" if exc.retryable else ""
            return results.tool_error(f"{exc.message}{retry}")
        # The upstream's `_meta` describes the upstream (its server info, ...): not ours to pass.
        return result.model_copy(update={"meta": None})

    # -- prompts ------------------------------------------------------------------------------

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, str] | None,
        principal: Principal | None = None,
        disabled: frozenset[str] = frozenset(),
    ) -> GetPromptResult:
        access = self.access(principal, disabled)
        refusal = access.refusal() if access is not None else None
        if refusal is not None:
            raise PortalError(refusal)
        view = self.view_for(access)
        prompt = view.curation.prompt(name)
        if prompt is None:
            known = ", ".join(p.name for p in view.prompts) or "none"
            raise PortalError(f"unknown prompt {name!r}; this portal's prompts: {known}")
        result = await self.services.catalog.get_prompt(
            prompt.server_id, prompt.upstream_name, arguments
        )
        return result.model_copy(update={"meta": None})  # the upstream's _meta is not ours

    # -- resources ----------------------------------------------------------------------------

    def list_resources(
        self, principal: Principal | None = None, disabled: frozenset[str] = frozenset()
    ) -> list[Resource]:
        return [r.resource for r in self.view_for(self.access(principal, disabled)).resources]

    def list_resource_templates(
        self, principal: Principal | None = None, disabled: frozenset[str] = frozenset()
    ) -> list[ResourceTemplate]:
        return [t.template for t in self.view_for(self.access(principal, disabled)).templates]

    def route_resource(
        self, uri: str, principal: Principal | None = None, disabled: frozenset[str] = frozenset()
    ) -> Route:
        """Where `uri` goes for `principal`. Raises `PortalError` for a refused caller and for a
        URI that no resource or template they may see stands for (a hidden server's resources
        are as unknown as ones that do not exist)."""
        access = self.access(principal, disabled)
        refusal = access.refusal() if access is not None else None
        if refusal is not None:
            raise PortalError(refusal)
        try:
            return self.view_for(access).resource_curation.route(uri)
        except RouteError as exc:
            raise PortalError(str(exc)) from None

    async def read_resource(
        self,
        uri: str,
        principal: Principal | None = None,
        user: str | None = None,
        disabled: frozenset[str] = frozenset(),
    ) -> ReadResourceResult:
        """`resources/read` as `principal` may. Raises `PortalError` (see `route_resource`) or
        `UpstreamError` (the server is down, or refused the URI)."""
        route = self.route_resource(uri, principal, disabled)
        if user is None and principal is not None:
            user = principal.user
        result = await self.services.calls.read_resource(
            Caller(self.id, user), route.server_id, route.upstream_uri, uri
        )
        if split_qualified(uri) is not None:
            result = qualify_contents(result, route.server_id)
        return result.model_copy(update={"meta": None})  # the upstream's _meta is not ours

    async def subscribe_resource(
        self, uri: str, principal: Principal | None = None, disabled: frozenset[str] = frozenset()
    ) -> Route:
        """Subscribe upstream (counted: one upstream subscription serves every subscriber) and
        return where updates will come from. Raises as `read_resource`."""
        route = self.route_resource(uri, principal, disabled)
        await self.services.catalog.subscribe(route.server_id, route.upstream_uri)
        return route

    async def unsubscribe_resource(self, route: Route) -> None:
        await self.services.catalog.unsubscribe(route.server_id, route.upstream_uri)

    def on_resource_updated(self, callback: Callable[[str, str], None]) -> None:
        """Call `callback(server_id, upstream_uri)` when a subscribed resource changed."""
        self._updated_listeners.append(callback)

    def resource_updated(self, server_id: str, upstream_uri: str) -> None:
        """Pass an upstream's `notifications/resources/updated` on; called by the gateway."""
        for listener in list(self._updated_listeners):
            try:
                listener(server_id, upstream_uri)
            except Exception:
                log.debug("resource-updated listener failed", exc_info=True)


def pick_portal(config: Config, portal_id: str | None) -> PortalConfig:
    """The portal `portal_id`, or the config's only portal."""
    if portal_id is not None:
        for portal in config.portals:
            if portal.id == portal_id:
                return portal
        known = ", ".join(p.id for p in config.portals) or "none"
        raise PortalError(f"no portal {portal_id!r} in the config (portals: {known})")
    if len(config.portals) != 1:
        known = ", ".join(p.id for p in config.portals) or "none"
        raise PortalError(f"the config has {len(config.portals)} portals ({known}): name one")
    return config.portals[0]
