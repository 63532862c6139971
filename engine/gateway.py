"""`Gateway`: every portal of a config over one set of upstream connections, one sandbox and
one request log. This is what a server process (or an embedding application) runs."""

from __future__ import annotations

from types import TracebackType

from mcp_types import LoggingMessageNotificationParams

from engine.catalog import Catalog
from engine.config import Config
from engine.executor import CodeExecutor
from engine.portal import Portal, PortalError
from engine.requestlog import RequestLog, open_request_log
from engine.validation import ArgumentValidator
from sandbox import Sandbox


class Gateway:
    def __init__(
        self,
        config: Config,
        *,
        portals: dict[str, Portal] | None = None,
        request_log: RequestLog | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.config = config
        self.catalog = Catalog(config.servers)
        limits = config.settings.sandbox.to_limits()
        self._own_sandbox = sandbox is None
        self.sandbox = sandbox or Sandbox(limits)
        self._request_log = request_log
        self.validator = ArgumentValidator()
        self.executor = CodeExecutor(
            self.sandbox, limits, config.settings.sandbox.output_cap_chars, self.validator
        )
        given = portals or {}
        self.portals: dict[str, Portal] = {
            p.id: given.get(p.id) or Portal(config, p.id, gateway=self) for p in config.portals
        }

    @property
    def request_log(self) -> RequestLog:
        if self._request_log is None:
            raise RuntimeError("the gateway is not running: use `async with Gateway(...)`")
        return self._request_log

    async def __aenter__(self) -> Gateway:
        if self._request_log is None:
            self._request_log = open_request_log(self.config.settings)
        self.catalog.on_change(self._changed)
        self.catalog.on_log(self._upstream_log)
        await self.catalog.__aenter__()
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
            if self._request_log is not None:
                self._request_log.close()

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
            if any(ref.server_id == server_id for ref in portal.config.servers):
                portal.refresh()

    def _upstream_log(self, server_id: str, params: LoggingMessageNotificationParams) -> None:
        for portal in self.portals.values():
            if any(ref.server_id == server_id for ref in portal.config.servers):
                portal.upstream_log(server_id, params)
