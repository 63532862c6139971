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

`await gateway.apply(config)` runs a new config without a restart (`engine.reload` says
which few keys still wait for one): it swaps the config every portal reads at once, adds and
removes portals, starts added servers in the background (Waiting, then Ready or Error),
reconnects servers whose transport, auth or timeouts changed, and closes removed ones (their
tools leave every portal in the same step). Code that derives state from the config (the
HTTP app's API-key hashes and per-portal endpoints) registers with `on_reload` to follow in
the same step. `gateway.reload(config)` is the same step for synchronous callers (SIGHUP);
the removed servers then close in the background.

With `[identity]` or `[admin]` set the gateway also opens the store (`engine.store`: people,
OAuth clients, grants, tokens, admin tokens) on entry and closes it on exit: `gateway.store`
(None without either). When portals and servers live in the store, writes made by other
processes sharing it are followed and applied here (`engine.config_follow`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
from mcp_types import LoggingMessageNotificationParams

from engine import telemetry
from engine.calls import ToolCalls
from engine.catalog import Catalog
from engine.config import Config
from engine.dlp import DlpPolicy
from engine.egress import egress_routes
from engine.executor import CodeExecutor
from engine.portal import Portal, PortalError, PortalServices, pick_portal
from engine.reload import ReloadReport, plan_reload, server_changes
from engine.requestlog import RequestLog, open_request_log
from engine.upstream import Upstream
from engine.validation import ArgumentValidator
from sandbox import Sandbox

if TYPE_CHECKING:
    from engine.config_follow import ConfigFollower
    from engine.store import Store
    from engine.upstream_relay import UpstreamRelay

log = logging.getLogger("codemode.reload")

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
        self.catalog = Catalog(config.servers, egress_routes(config))
        limits = config.settings.sandbox.to_limits()
        self._own_sandbox = sandbox is None
        self.sandbox = sandbox or Sandbox(limits)
        self._given_log = request_log
        self.validator = ArgumentValidator()
        self.executor = CodeExecutor(
            self.sandbox, limits, config.settings.sandbox.output_cap_chars, self.validator
        )
        self.calls = ToolCalls(self.catalog, DlpPolicy(config))
        services = PortalServices(config, self.catalog, self.executor, self.validator, self.calls)
        self._services = services
        self.portals: dict[str, Portal] = {p.id: Portal(p.id, services) for p in config.portals}
        self._reload_hooks: list[ReloadHook] = [self._reload_dlp]
        self._apply_lock = anyio.Lock()
        self.store: Store | None = None
        self._store_cm: AbstractAsyncContextManager[Store] | None = None
        self._follower: ConfigFollower | None = None
        self._relay: UpstreamRelay | None = None
        # Held by a config write (admin API) from computing the change to its commit, and by
        # the follower from reading the store to applying it: neither sees the other's half.
        self.config_lock = anyio.Lock()

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
        telemetry.start()  # only when the OTEL_* environment asks for it
        try:
            return await self._enter()
        except BaseException:
            telemetry.stop()
            await self._close_store()
            raise

    async def _close_store(self) -> None:
        manager, self._store_cm, self.store = self._store_cm, None, None
        if manager is not None:
            await manager.__aexit__(None, None, None)

    async def _enter(self) -> Gateway:
        log = telemetry.with_export(self._given_log or self._open_request_log())
        self.calls.bind(log)
        self.catalog.on_change(self._changed)
        self.catalog.on_log(self._upstream_log)
        self.catalog.on_resource_updated(self._resource_updated)
        if self.store is not None:
            self.catalog.use_upstream_tokens(self.store.upstream_tokens, self.store.connect_prompts)
        try:
            await self.catalog.__aenter__()
        except BaseException:
            log.close()
            raise
        for portal in self.portals.values():
            portal.refresh()
        if self.store is not None and self.config.config_in_store:
            from engine.config_follow import ConfigFollower  # SQLAlchemy: only with a store

            self._follower = ConfigFollower(self)
            self._follower.start()
        if self.store is not None and self.store.engine.url.get_backend_name() == "postgresql":
            from engine.upstream_relay import UpstreamRelay  # SQLAlchemy: only with a store

            self._relay = UpstreamRelay(self.catalog, self.store)
            self._relay.start()
        return self

    def _open_request_log(self) -> RequestLog:
        """On PostgreSQL the request log is a table of the store, which every replica writes
        and reads; otherwise the SQLite file of `settings.request_log_path`."""
        if self.store is None or self.store.engine.url.get_backend_name() != "postgresql":
            return open_request_log(self.config.settings)
        from engine.store.request_log import StoreRequestLog  # SQLAlchemy: only with a store

        return open_request_log(self.config.settings, StoreRequestLog(self.store.engine.url))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._follower is not None:
                await self._follower.stop()
            if self._relay is not None:
                await self._relay.stop()
            await self.catalog.__aexit__(exc_type, exc, tb)
        finally:
            if self._own_sandbox:
                self.sandbox.close()
            self.calls.request_log.close()
            telemetry.stop()
            await self._close_store()

    async def catch_up_with_store(self) -> None:
        """Run the store's portals and servers if another process changed them and this one
        has not applied that yet (no-op without a store config). Call holding `config_lock`."""
        if self._follower is not None:
            await self._follower.catch_up()

    def on_reload(self, hook: ReloadHook) -> None:
        """Have `hook(config)` prepare, on each `reload`, what its owner derives from the
        config (it may raise `ConfigError`: the reload is then refused), and return the
        function that puts it in place; those run only once every hook has prepared."""
        self._reload_hooks.append(hook)

    async def apply(self, config: Config, *, by: str | None = None) -> ReloadReport:
        """Run `config` from now on, as far as it applies without a restart (`engine.reload`:
        all but `[settings]`, `[admin]` and `[identity]` on/off and provider); what needs one
        keeps its running value and is named in the report. `by` names who asked, for the log.

        All or nothing: the config to run is checked whole and every `on_reload` hook
        prepares first; then the config, the portals, the set of upstream connections and the
        hooks' state change in one synchronous step, so no request sees half of it. Added
        and reconnected servers connect in the background (`catalog.wait_settled`); this
        returns once the removed and replaced connections are closed. Calls are serialized.

        Raises:
            ConfigError: the config to run is inconsistent or a hook cannot use it (nothing
                changed).
        """
        async with self._apply_lock:
            report, detached = self._swap(config)
            if report.changed:
                log.info("config applied%s: %s", f" by {by}" if by else "", report.summary())
            await self.catalog.close(detached)
            return report

    def reload(self, config: Config) -> ReloadReport:
        """`apply` for synchronous callers (SIGHUP): the same step, with the removed and
        replaced connections closed in the background.

        Raises:
            ConfigError: as `apply` (nothing changed).
        """
        report, detached = self._swap(config)
        self.catalog.close_soon(detached)
        return report

    def _swap(self, config: Config) -> tuple[ReloadReport, list[Upstream]]:
        """Put `config` in place (see `apply`); the upstreams it detached, still open."""
        report = plan_reload(self.config, config)
        commits = [hook(report.config) for hook in self._reload_hooks]
        changes = server_changes(self.config, report.config)
        opened = [report.config.server(sid) for sid in changes.to_open]
        detached = self.catalog.replace(opened, changes.to_close, egress_routes(report.config))
        self.config = report.config
        self._services = replace(self._services, config=report.config)
        self.portals = {
            p.id: self._rebound(self.portals.get(p.id), p.id) for p in report.config.portals
        }
        for commit in commits:
            commit()
        return report, detached

    def _rebound(self, portal: Portal | None, portal_id: str) -> Portal:
        if portal is None:
            portal = Portal(portal_id, self._services)
            portal.refresh()
        else:
            portal.rebind(self._services)
        return portal

    def _reload_dlp(self, config: Config) -> Callable[[], None]:
        """DLP settings apply live: compile the new ones (a bad pattern refuses the reload)."""
        policy = DlpPolicy(config)

        def commit() -> None:
            self.calls.dlp = policy

        return commit

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

    def _resource_updated(self, server_id: str, upstream_uri: str) -> None:
        for portal in self.portals.values():
            if portal.serves(server_id):
                portal.resource_updated(server_id, upstream_uri)

    def _upstream_log(self, server_id: str, params: LoggingMessageNotificationParams) -> None:
        for portal in self.portals.values():
            if portal.serves(server_id):
                portal.upstream_log(server_id, params)
