"""`Gateway`: every portal of a config over one set of upstream connections, one sandbox and
one request log. This is what a server process (or an embedding application) runs.

```python
async with Gateway(config) as gateway:            # every portal of the config
    portal = gateway.portal("team")

async with Gateway.for_portal(config) as portal:  # one portal (the config's only one)
    ...
```
The gateway builds the services its portals share (`PortalServices`) and owns their lifetime;
portals only borrow them. It passes upstream changes and log lines on to the portals that
show the server concerned.

`gateway.reload(config)` applies a newly loaded config to the next request without a
restart: policies, API keys, identity's live keys, names and curation (`engine.reload` says
which keys apply live and which wait for a restart). It swaps the config every portal reads
at once, and code that derives state from the config (the HTTP app's API-key hashes)
registers with `on_reload` to be recomputed in the same step.

With `[identity]` or `[admin]` set the gateway also opens the store (`engine.store`: people,
OAuth clients, grants, tokens, admin tokens) on entry and closes it on exit: `gateway.store`
(None without either).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING

from mcp_types import LoggingMessageNotificationParams

from engine.calls import ToolCalls
from engine.catalog import Catalog
from engine.config import Config
from engine.executor import CodeExecutor
from engine.portal import Portal, PortalError, PortalServices, pick_portal
from engine.reload import ReloadReport, plan_reload
from engine.requestlog import RequestLog, open_request_log
from engine.validation import ArgumentValidator
from sandbox import Sandbox

if TYPE_CHECKING:
    from engine.store import Store

ReloadHook = Callable[[Config], Callable[[], None]]
"""Prepares what its owner derives from a config about to run, raising `ConfigError` when it
cannot, and returns the function that puts it in place."""


class Gateway:
    def __init__(
        self,
        config: Config,
        *,
        request_log: RequestLog | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.config = config
        self.catalog = Catalog(config.servers)
        limits = config.settings.sandbox.to_limits()
        self._own_sandbox = sandbox is None
        self.sandbox = sandbox or Sandbox(limits)
        self._given_log = request_log
        self.validator = ArgumentValidator()
        self.executor = CodeExecutor(
            self.sandbox, limits, config.settings.sandbox.output_cap_chars, self.validator
        )
        self.calls = ToolCalls(self.catalog)
        services = PortalServices(config, self.catalog, self.executor, self.validator, self.calls)
        self._services = services
        self.portals: dict[str, Portal] = {p.id: Portal(p.id, services) for p in config.portals}
        self._reload_hooks: list[ReloadHook] = []
        self.store: Store | None = None
        self._store_cm: AbstractAsyncContextManager[Store] | None = None

    @classmethod
    @asynccontextmanager
    async def for_portal(
        cls, config: Config, portal_id: str | None = None
    ) -> AsyncIterator[Portal]:
        """Run one portal of `config` (its only one when `portal_id` is None) on a gateway of
        its own, for an application that embeds a single portal."""
        chosen = pick_portal(config, portal_id)
        async with cls(config) as gateway:
            yield gateway.portal(chosen.id)

    @property
    def request_log(self) -> RequestLog:
        return self.calls.request_log

    async def __aenter__(self) -> Gateway:
        if self.config.uses_store:
            # SQLAlchemy and Alembic: only with sign-in or named admin tokens
            from engine.store import open_store

            self._store_cm = open_store(self.config.settings)
            self.store = await self._store_cm.__aenter__()
        try:
            return await self._enter()
        except BaseException:
            await self._close_store()
            raise

    async def _close_store(self) -> None:
        manager, self._store_cm, self.store = self._store_cm, None, None
        if manager is not None:
            await manager.__aexit__(None, None, None)

    async def _enter(self) -> Gateway:
        log = self._given_log or open_request_log(self.config.settings)
        self.calls.bind(log)
        self.catalog.on_change(self._changed)
        self.catalog.on_log(self._upstream_log)
        if self.store is not None:
            self.catalog.use_upstream_tokens(self.store.upstream_tokens)
        try:
            await self.catalog.__aenter__()
        except BaseException:
            log.close()
            raise
        for portal in self.portals.values():
            portal.refresh()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.catalog.__aexit__(exc_type, exc, tb)
        finally:
            if self._own_sandbox:
                self.sandbox.close()
            self.calls.request_log.close()
            await self._close_store()

    def on_reload(self, hook: ReloadHook) -> None:
        """Have `hook(config)` prepare, on each `reload`, what its owner derives from the
        config (it may raise `ConfigError`: the reload is then refused), and return the
        function that puts it in place; those run only once every hook has prepared."""
        self._reload_hooks.append(hook)

    def reload(self, config: Config) -> ReloadReport:
        """Run `config` from the next request on, as far as it applies without a restart
        (`engine.reload`); what needs one keeps its running value and is named in the report.

        All or nothing: the config to run is checked whole and every `on_reload` hook
        prepares first; then the config, every portal's services and the hooks' state change
        in one synchronous step, so no request sees half of it.

        Raises:
            ConfigError: the config to run is inconsistent or a hook cannot use it (nothing
                changed).
        """
        report = plan_reload(self.config, config)
        commits = [hook(report.config) for hook in self._reload_hooks]
        self.config = report.config
        self._services = replace(self._services, config=report.config)
        for portal in self.portals.values():
            portal.rebind(self._services)
        for commit in commits:
            commit()
        return report

    def portal(self, portal_id: str) -> Portal:
        try:
            return self.portals[portal_id]
        except KeyError:
            known = ", ".join(self.portals) or "none"
            raise PortalError(f"no portal {portal_id!r} (portals: {known})") from None

    def portal_for_host(self, host: str) -> Portal | None:
        """The portal whose configured hostname is `host` (port ignored), if any."""
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
        for portal in self.portals.values():
            if portal.config.hostname and portal.config.hostname.lower() == name.lower():
                return portal
        return None

    def _changed(self, server_id: str) -> None:
        for portal in self.portals.values():
            if portal.serves(server_id):
                portal.refresh()

    def _upstream_log(self, server_id: str, params: LoggingMessageNotificationParams) -> None:
        for portal in self.portals.values():
            if portal.serves(server_id):
                portal.upstream_log(server_id, params)
