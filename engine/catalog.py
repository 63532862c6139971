"""All upstream servers of a portal: their connections, tools, prompts, resources and health."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.abc
import mcp_types as types

from engine.config import ServerConfig
from engine.egress import EgressProxy
from engine.person_sessions import PersonSessions
from engine.status import ServerStatus, UpstreamError
from engine.upstream import Upstream

if TYPE_CHECKING:
    from engine.store.connect_prompts import ConnectPromptStore
    from engine.store.upstream_tokens import UpstreamTokenStore

logger = logging.getLogger(__name__)

CLOSE_WAIT_S: Final = 15.0
"""How long `Catalog.close` waits for a removed server to end (the SDK gives a stdio server
a few seconds to exit before killing it)."""


@dataclass(eq=False)
class _Running:
    """One upstream's supervisor task: cancelled to close it, `done` once it has ended."""

    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)


class Catalog:
    """Connects every configured server concurrently and keeps their catalogs in sync.

    ```python
    async with Catalog(config.servers) as catalog:
        catalog.tools("github")            # [] unless that server is Ready
        await catalog.call_tool("github", "search", {"q": "x"})
    ```
    One server failing never blocks or breaks the others.

    Status per server: `Waiting` until its first connection settles; `Ready` once tools and
    prompts are listed (a re-sync keeps it Ready and swaps the lists when done); `Error` with
    details when it cannot be reached or refuses us. A server in Error offers no tools, keeps
    its last error while reconnecting with capped backoff (0.5 s doubling to 30 s), and turns
    Ready again by itself. An `oauth` server connects with the admin credential in the store
    (`use_upstream_tokens`); without the store it stays in Error ("oauth not configured").

    While it runs, servers come and go (`replace`, for a new config): an added one connects
    in the background (Waiting, then Ready or Error); a removed one is detached at once (no
    tools, no status) and its connection closed by `close` (its session ended, its process
    reaped).
    """

    def __init__(
        self, servers: Sequence[ServerConfig], egress: Mapping[str, EgressProxy] | None = None
    ) -> None:
        """`egress`: the forward proxy of each server routed through one (`engine.egress`)."""
        self._upstreams: dict[str, Upstream] = {}
        self._routes: dict[str, EgressProxy] = dict(egress or {})
        self._tokens: UpstreamTokenStore | None = None
        self.people: PersonSessions | None = None
        """Sessions carrying people's own tokens to `on_behalf` servers (with the store)."""
        self._notice: Callable[[str], None] | None = None
        for server in servers:
            if server.id in self._upstreams:
                raise ValueError(f"two servers share the id {server.id!r}; ids must be unique")
            self._upstreams[server.id] = self._upstream(server)
        self._running: dict[Upstream, _Running] = {}
        self._callbacks: list[Callable[[str], None]] = []
        self._log_callbacks: list[
            Callable[[str, types.LoggingMessageNotificationParams], None]
        ] = []
        self._updated_callbacks: list[Callable[[str, str], None]] = []
        self._task_group: anyio.abc.TaskGroup | None = None
        self._settled = False

    @property
    def settled(self) -> bool:
        """Entered: every server's first connection has settled (Ready or Error), so what
        the catalog lists is what the upstreams offered at start-up. Readiness (`/readyz`)."""
        return self._settled

    def use_upstream_tokens(
        self, tokens: UpstreamTokenStore, prompts: ConnectPromptStore | None = None
    ) -> None:
        """Where `oauth` servers find their admin credentials (those added later too), and
        people theirs; before entering."""
        self._tokens = tokens
        self.people = PersonSessions(tokens, prompts=prompts)
        for upstream in self._upstreams.values():
            upstream.tokens = tokens

    async def __aenter__(self) -> Catalog:
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        if self.people is not None:
            task_group.start_soon(self.people.run, name="per-person upstream sessions")
        for upstream in self._upstreams.values():
            self._start(upstream)
        try:
            async with anyio.create_task_group() as waits:
                for upstream in self._upstreams.values():
                    waits.start_soon(upstream.wait_settled)
        except BaseException:
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)
            self._task_group = None
            raise
        self._settled = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        task_group, self._task_group = self._task_group, None
        self._settled = False
        if task_group is None:
            return
        # Supervisors only end when cancelled; their exits close sessions and reap children.
        task_group.cancel_scope.cancel()
        await task_group.__aexit__(None, None, None)

    # ----- read side -----

    @property
    def server_ids(self) -> list[str]:
        return list(self._upstreams)

    def status(self) -> dict[str, ServerStatus]:
        return {sid: upstream.status for sid, upstream in self._upstreams.items()}

    def tools(self, server_id: str) -> list[types.Tool]:
        """The server's tools as it listed them; empty unless the server is Ready."""
        return self._get(server_id).tools

    def prompts(self, server_id: str) -> list[types.Prompt]:
        return self._get(server_id).prompts

    def resources(self, server_id: str) -> list[types.Resource]:
        return self._get(server_id).resources

    def resource_templates(self, server_id: str) -> list[types.ResourceTemplate]:
        return self._get(server_id).resource_templates

    def subscribed(self, server_id: str) -> list[str]:
        """The upstream URIs this server is subscribed to for someone downstream."""
        return self._get(server_id).subscriptions.uris()

    def routed(self, server_id: str) -> bool:
        """Whether the server's HTTP goes through the egress proxy (`secure_web_gateway`)."""
        upstream = self._upstreams.get(server_id)
        return upstream is not None and upstream.egress is not None

    def on_change(self, callback: Callable[[str], None]) -> None:
        """Call `callback(server_id)` whenever that server's tools, prompts or status change."""
        self._callbacks.append(callback)

    def on_log(
        self, callback: Callable[[str, types.LoggingMessageNotificationParams], None]
    ) -> None:
        """Call `callback(server_id, params)` for each `notifications/message` a server sends."""
        self._log_callbacks.append(callback)

    def on_resource_updated(self, callback: Callable[[str, str], None]) -> None:
        """Call `callback(server_id, upstream_uri)` for each `notifications/resources/updated`
        of a URI someone subscribed to (`subscribe`)."""
        self._updated_callbacks.append(callback)

    # ----- actions -----

    async def reconnect(self, server_id: str) -> ServerStatus:
        """Connect the server afresh (its credential changed); its new status."""
        return await self._get(server_id).reconnect()

    async def sync(self, server_id: str) -> ServerStatus:
        """Re-sync the server now (reconnecting at once if it is in Error)."""
        return await self._get(server_id).sync()

    async def call_tool(
        self,
        server_id: str,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        timeout_s: float | None = None,
        person_id: int | None = None,
        connect_url: str = "",
    ) -> types.CallToolResult:
        """Call an upstream tool. `isError` results are returned, not raised. With
        `person_id`: over that person's own session (`PersonSessions`), never the admin's;
        `connect_url` is where they connect the server when they have not.

        Raises:
            UpstreamError: the server is not Ready, could not be reached, timed out (after
                `timeout_s`, default the server's `call_timeout_s`), or answered with a
                protocol error; `UpstreamConnectRequired` for a person not connected.
            KeyError: no server has this id.
        """
        upstream = self._get(server_id)
        if person_id is None:
            return await upstream.call_tool(name, arguments, timeout_s)
        assert self.people is not None, "per-person calls need the store"
        config, egress = upstream.config, upstream.egress
        return await self.people.call_tool(
            config, egress, person_id, connect_url, name, arguments, timeout_s
        )

    async def get_prompt(
        self, server_id: str, name: str, arguments: dict[str, str] | None
    ) -> types.GetPromptResult:
        return await self._get(server_id).get_prompt(name, arguments)

    def replace(
        self,
        add: Sequence[ServerConfig],
        remove: Sequence[str],
        egress: Mapping[str, EgressProxy] | None = None,
    ) -> list[Upstream]:
        """Detach the servers `remove` and start the servers `add` (in the background: each
        is Waiting until its first sync ends), in one synchronous step. An id in both is a
        reconnection. `egress`, when given, is the new config's proxy routes (servers opened
        from now on follow it). Returns the detached upstreams, still connected: `close` them.

        Raises:
            KeyError: a server of `remove` is unknown, or one of `add` is already known.
        """
        for sid in remove:
            self._get(sid)
        clash = [s.id for s in add if s.id in self._upstreams and s.id not in remove]
        if clash:
            raise KeyError(f"servers already connected: {', '.join(clash)}")
        if egress is not None:
            self._routes = dict(egress)
        detached = [self._upstreams.pop(sid) for sid in remove]
        for sid in remove:
            if self.people is not None:  # their sessions hold the old config's address
                self.people.close(server_id=sid)
        reopened = {s.id for s in add}
        for upstream in detached:
            upstream.retire(replaced=upstream.config.id in reopened)
        for server in add:
            upstream = self._upstreams[server.id] = self._upstream(server)
            if self._task_group is not None:
                self._start(upstream)
        return detached

    async def close(self, upstreams: Sequence[Upstream]) -> None:
        """End detached upstreams' connections and wait (boundedly) until they have."""
        for upstream in upstreams:
            running = self._running.get(upstream)
            if running is not None:
                running.scope.cancel()
        for upstream in upstreams:
            running = self._running.get(upstream)
            if running is None:
                continue
            with anyio.move_on_after(CLOSE_WAIT_S, shield=True) as waited:
                await running.done.wait()
            if waited.cancelled_caught:
                logger.warning(
                    "upstream %s: still closing after %g s", upstream.config.id, CLOSE_WAIT_S
                )

    def close_soon(self, upstreams: Sequence[Upstream]) -> None:
        """`close` in the background (from synchronous code on the event loop)."""
        if upstreams and self._task_group is not None:
            self._task_group.start_soon(self.close, upstreams, name="close upstreams")

    async def wait_settled(self, server_id: str) -> ServerStatus:
        """The server's status once its first connection ended in Ready or Error (bounded by
        its `connect_timeout_s`)."""
        upstream = self._get(server_id)
        await upstream.wait_settled(at_start=False)  # its failure is logged as any other
        return upstream.status

    async def read_resource(self, server_id: str, uri: str) -> types.ReadResourceResult:
        """Read an upstream resource by its upstream URI. Raises `UpstreamError` as
        `call_tool` does (an unknown URI is the server's protocol error)."""
        return await self._get(server_id).read_resource(uri)

    async def subscribe(self, server_id: str, uri: str) -> None:
        """Count one more subscriber of `uri`; the first one subscribes upstream."""
        await self._get(server_id).subscribe(uri)

    async def unsubscribe(self, server_id: str, uri: str) -> None:
        """Count one subscriber less; the last one unsubscribes upstream."""
        await self._get(server_id).unsubscribe(uri)

    # ----- internals -----

    def _upstream(self, server: ServerConfig) -> Upstream:
        upstream: Upstream

        def changed(server_id: str) -> None:
            # A detached upstream still closing must not speak for its successor.
            if self._upstreams.get(server_id) is upstream:
                self._notify(server_id)

        def logged(server_id: str, params: types.LoggingMessageNotificationParams) -> None:
            if self._upstreams.get(server_id) is upstream:
                self._log(server_id, params)

        def updated(server_id: str, uri: str) -> None:
            if self._upstreams.get(server_id) is upstream:
                self._resource_updated(server_id, uri)

        upstream = Upstream(server, changed, logged, updated, egress=self._routes.get(server.id))
        upstream.tokens = self._tokens
        upstream.on_notice = self._notice
        return upstream

    def on_upstream_notice(self, callback: Callable[[str], None]) -> None:
        """Call `callback(server_id)` when a server announces list_changed itself (for the
        processes that share the store, `engine.upstream_relay`); one callback."""
        self._notice = callback
        for upstream in self._upstreams.values():
            upstream.on_notice = callback

    def peer_noticed(self, server_id: str) -> None:
        """Another process saw `server_id` announce list_changed: list it again here."""
        upstream = self._upstreams.get(server_id)
        if upstream is not None:
            upstream.peer_noticed()

    def _start(self, upstream: Upstream) -> None:
        assert self._task_group is not None
        running = self._running[upstream] = _Running()
        self._task_group.start_soon(
            self._supervise, upstream, running, name=f"upstream {upstream.config.id}"
        )

    async def _supervise(self, upstream: Upstream, running: _Running) -> None:
        try:
            with running.scope:
                await upstream.run()
        finally:
            running.done.set()
            self._running.pop(upstream, None)

    def _get(self, server_id: str) -> Upstream:
        try:
            return self._upstreams[server_id]
        except KeyError:
            known = ", ".join(sorted(self._upstreams)) or "none"
            raise KeyError(f"no upstream server {server_id!r} (known: {known})") from None

    def _notify(self, server_id: str) -> None:
        for callback in list(self._callbacks):
            try:
                callback(server_id)
            except Exception:
                logger.exception("catalog on_change callback failed for %s", server_id)

    def _resource_updated(self, server_id: str, uri: str) -> None:
        for callback in list(self._updated_callbacks):
            try:
                callback(server_id, uri)
            except Exception:
                logger.debug("resource update callback failed for %s", server_id, exc_info=True)

    def _log(self, server_id: str, params: types.LoggingMessageNotificationParams) -> None:
        for callback in list(self._log_callbacks):
            try:
                callback(server_id, params)
            except Exception:
                logger.debug("catalog on_log callback failed for %s", server_id, exc_info=True)


__all__ = ["Catalog", "UpstreamError"]
