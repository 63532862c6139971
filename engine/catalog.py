"""All upstream servers of a portal: their connections, tools, prompts and health."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import mcp_types as types

from engine.config import ServerConfig
from engine.status import ServerStatus, UpstreamError
from engine.upstream import Upstream

logger = logging.getLogger(__name__)


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
    Ready again by itself. `oauth` servers stay in Error ("oauth not configured") for now.
    """

    def __init__(self, servers: Sequence[ServerConfig]) -> None:
        self._upstreams: dict[str, Upstream] = {}
        for server in servers:
            if server.id in self._upstreams:
                raise ValueError(f"two servers share the id {server.id!r}; ids must be unique")
            self._upstreams[server.id] = Upstream(server, self._notify, self._log)
        self._callbacks: list[Callable[[str], None]] = []
        self._log_callbacks: list[
            Callable[[str, types.LoggingMessageNotificationParams], None]
        ] = []
        self._task_group: anyio.abc.TaskGroup | None = None
        self._settled = False

    @property
    def settled(self) -> bool:
        """Entered: every server's first connection has settled (Ready or Error), so what
        the catalog lists is what the upstreams offered at start-up. Readiness (`/readyz`)."""
        return self._settled

    async def __aenter__(self) -> Catalog:
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        for upstream in self._upstreams.values():
            task_group.start_soon(upstream.run, name=f"upstream {upstream.config.id}")
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

    def on_change(self, callback: Callable[[str], None]) -> None:
        """Call `callback(server_id)` whenever that server's tools, prompts or status change."""
        self._callbacks.append(callback)

    def on_log(
        self, callback: Callable[[str, types.LoggingMessageNotificationParams], None]
    ) -> None:
        """Call `callback(server_id, params)` for each `notifications/message` a server sends."""
        self._log_callbacks.append(callback)

    # ----- actions -----

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
    ) -> types.CallToolResult:
        """Call an upstream tool. `isError` results are returned, not raised.

        Raises:
            UpstreamError: the server is not Ready, could not be reached, timed out (after
                `timeout_s`, default the server's `call_timeout_s`), or answered with a
                protocol error.
            KeyError: no server has this id.
        """
        return await self._get(server_id).call_tool(name, arguments, timeout_s)

    async def get_prompt(
        self, server_id: str, name: str, arguments: dict[str, str] | None
    ) -> types.GetPromptResult:
        return await self._get(server_id).get_prompt(name, arguments)

    # ----- internals -----

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

    def _log(self, server_id: str, params: types.LoggingMessageNotificationParams) -> None:
        for callback in list(self._log_callbacks):
            try:
                callback(server_id, params)
            except Exception:
                logger.debug("catalog on_log callback failed for %s", server_id, exc_info=True)


__all__ = ["Catalog", "UpstreamError"]
