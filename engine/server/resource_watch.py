"""Resource subscriptions of one portal server's clients, in both protocol eras.

2025-11-25 sessions send `resources/subscribe` / `unsubscribe`; `ResourceWatch` remembers, per
session, which client URI stands for which (server, upstream URI) and sends
`notifications/resources/updated` with the URI the client subscribed by. 2026-07-28 clients
name the URIs in `subscriptions/listen` (`ResourceListenHandler`); updates go out through the
SDK's subscription bus, which delivers each only to the streams that asked for that URI.

Either way the portal subscribes upstream for them (`Portal.subscribe_resource`: counted, one
upstream subscription per URI for all of them), only for URIs the caller may read, and lets go
when the session unsubscribes, ends, or its listen stream closes. A session the server no longer
tracks (ended, idle) loses its subscriptions on the next update of any of them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import anyio
import mcp_types as types
from mcp.server.session import ServerSession
from mcp.server.subscriptions import ListenHandler, ResourceUpdated, SubscriptionBus
from mcp.shared.exceptions import MCPError

from engine.auth import Principal
from engine.portal import Portal, PortalError
from engine.resource_curation import Route
from engine.status import UpstreamError
from engine.upstream_resources import TooManySubscriptions

log = logging.getLogger("codemode.mcp_server")

MAX_SUBSCRIPTIONS_PER_SESSION: Final = 100
"""Resource URIs one session (or listen stream) may watch."""
RELEASE_TIMEOUT_S: Final = 5.0
"""How long letting go of an upstream subscription may take when its watcher is gone."""


async def _release(portal: Portal, routes: list[Route]) -> None:
    """Unsubscribe upstream, also while the caller is being cancelled (a closed stream)."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(RELEASE_TIMEOUT_S):
        for route in routes:
            await portal.unsubscribe_resource(route)


def _refused(exc: Exception) -> MCPError:
    if isinstance(exc, PortalError):
        return MCPError(types.INVALID_PARAMS, str(exc))
    if isinstance(exc, UpstreamError):
        return MCPError(types.INTERNAL_ERROR, exc.message)
    return MCPError(types.INTERNAL_ERROR, str(exc))


class ResourceWatch:
    """The 2025-era sessions' subscriptions: session key -> client URI -> route."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self._by_session: dict[str, dict[str, Route]] = {}

    async def subscribe(
        self,
        key: str,
        uri: str,
        principal: Principal | None,
        disabled: frozenset[str] = frozenset(),
    ) -> None:
        held = self._by_session.setdefault(key, {})
        if uri in held:
            return
        if len(held) >= MAX_SUBSCRIPTIONS_PER_SESSION:
            raise MCPError(
                types.INVALID_PARAMS,
                f"this session watches {MAX_SUBSCRIPTIONS_PER_SESSION} resources already; "
                "unsubscribe from one first",
            )
        try:
            held[uri] = await self.portal.subscribe_resource(uri, principal, disabled)
        except (PortalError, UpstreamError, TooManySubscriptions) as exc:
            raise _refused(exc) from None

    async def unsubscribe(self, key: str, uri: str) -> None:
        route = self._by_session.get(key, {}).pop(uri, None)
        if route is not None:
            await _release(self.portal, [route])

    async def drop(self, key: str) -> None:
        """Let go of everything session `key` watched (it ended)."""
        await _release(self.portal, list(self._by_session.pop(key, {}).values()))

    def targets(self, server_id: str, upstream_uri: str) -> list[tuple[str, str]]:
        """(session key, client URI) of each subscription to this upstream resource."""
        wanted = Route(server_id, upstream_uri)
        return [
            (key, uri)
            for key, held in self._by_session.items()
            for uri, route in held.items()
            if route == wanted
        ]

    async def deliver(
        self, server_id: str, upstream_uri: str, session_of: Callable[[str], ServerSession | None]
    ) -> None:
        """Send `notifications/resources/updated` to each subscribed session still alive."""
        for key, uri in self.targets(server_id, upstream_uri):
            session = session_of(key)
            try:
                if session is None:
                    raise LookupError("session no longer tracked")
                await session.send_resource_updated(uri)
            except Exception:  # the session ended: its subscriptions go with it
                log.debug("session %s is gone; dropping its subscriptions", key[:12])
                await self.drop(key)


class ResourceListenHandler(ListenHandler):
    """`subscriptions/listen` that also subscribes upstream to the resource URIs a 2026-era
    client names, for as long as its stream is open. `publish_updated` turns an upstream
    update into bus events under each client URI that stands for it."""

    def __init__(
        self, bus: SubscriptionBus, portal: Portal, principal_of: Callable[[Any], Principal | None]
    ) -> None:
        super().__init__(bus)
        self._bus = bus
        self.portal = portal
        self._principal_of = principal_of
        self._watched: Counter[tuple[Route, str]] = Counter()

    async def __call__(
        self, ctx: Any, params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        wanted = list(params.notifications.resource_subscriptions or ())
        held: list[tuple[Route, str]] = []
        try:
            for uri in wanted[:MAX_SUBSCRIPTIONS_PER_SESSION]:
                try:
                    route = await self.portal.subscribe_resource(uri, self._principal_of(ctx))
                except (PortalError, UpstreamError, TooManySubscriptions) as exc:
                    # Honoured like a URI that never changes: the stream itself stays useful.
                    log.debug("listen: not watching %s: %s", uri, exc)
                    continue
                held.append((route, uri))
                self._watched[(route, uri)] += 1
            return await super().__call__(ctx, params)
        finally:
            for route, uri in held:
                self._watched[(route, uri)] -= 1
                if self._watched[(route, uri)] <= 0:
                    del self._watched[(route, uri)]
            await _release(self.portal, [route for route, _uri in held])

    async def publish_updated(self, server_id: str, upstream_uri: str) -> None:
        wanted = Route(server_id, upstream_uri)
        for uri in sorted({uri for route, uri in self._watched if route == wanted}):
            await self._bus.publish(ResourceUpdated(uri=uri))


__all__ = ["MAX_SUBSCRIPTIONS_PER_SESSION", "ResourceListenHandler", "ResourceWatch"]
