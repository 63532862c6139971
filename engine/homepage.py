"""Homepage (`GET /`): a server-rendered page per portal. (Being written by a helper.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from engine.gateway import Gateway


def homepage_routes(gateway: Gateway) -> list[BaseRoute]:
    """Routes for `/` (and `/p/{portal_id}/`)."""
    return []
