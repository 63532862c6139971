"""What an upstream connection needs for resources: paging their lists, and counting who
subscribed to which URI, so one upstream subscription serves every downstream subscriber."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Final

import anyio
import mcp_types as types
from mcp.client import Client

# We send resources/subscribe and unsubscribe only on 2025-11-25 sessions, where they are the
# protocol; the SDK's warning that 2026-07-28 removed them says nothing we can act on.
warnings.filterwarnings("ignore", message=r"resources/(un)?subscribe is removed as of 2026-07-28")

MAX_SUBSCRIBED_URIS: Final = 1000
"""Distinct upstream URIs one server is subscribed to at most; beyond: refused."""


class TooManySubscriptions(RuntimeError):
    """A server already has `MAX_SUBSCRIBED_URIS` subscriptions."""


class ResourceSubscriptions:
    """Counted upstream URIs. `add`/`remove` say whether the upstream must be told (the first
    subscriber came, the last one left); `changed` fires whenever the set of URIs changes."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self.changed = anyio.Event()

    def __contains__(self, uri: object) -> bool:
        return uri in self._counts

    def uris(self) -> list[str]:
        return sorted(self._counts)

    def add(self, uri: str) -> bool:
        first = uri not in self._counts
        if first and len(self._counts) >= MAX_SUBSCRIBED_URIS:
            raise TooManySubscriptions(
                f"{MAX_SUBSCRIBED_URIS} resources are subscribed on this server already"
            )
        self._counts[uri] += 1
        if first:
            self._fire()
        return first

    def remove(self, uri: str) -> bool:
        if uri not in self._counts:
            return False
        self._counts[uri] -= 1
        if self._counts[uri] > 0:
            return False
        del self._counts[uri]
        self._fire()
        return True

    def _fire(self) -> None:
        changed, self.changed = self.changed, anyio.Event()
        changed.set()


def uri_of(item: types.Resource | types.ResourceTemplate) -> str:
    """What identifies a listed resource (its URI) or template (its URI template)."""
    return item.uri if isinstance(item, types.Resource) else item.uri_template


async def cancel_on(changed: anyio.Event, done: anyio.Event, scope: anyio.CancelScope) -> None:
    """Cancel `scope` when `changed` fires (the subscribed URIs changed, so a 2026-era listen
    stream must be reopened with the new list); return when `done` does, whichever is first."""
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            await changed.wait()
            scope.cancel()
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        await done.wait()
        tg.cancel_scope.cancel()


async def resources_page(
    client: Client, cursor: str | None
) -> tuple[list[types.Resource], str | None]:
    page = await client.list_resources(cursor=cursor)
    return page.resources, page.next_cursor


async def templates_page(
    client: Client, cursor: str | None
) -> tuple[list[types.ResourceTemplate], str | None]:
    page = await client.list_resource_templates(cursor=cursor)
    return page.resource_templates, page.next_cursor


__all__ = [
    "MAX_SUBSCRIBED_URIS",
    "ResourceSubscriptions",
    "TooManySubscriptions",
    "cancel_on",
    "resources_page",
    "templates_page",
    "uri_of",
]
