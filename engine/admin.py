"""Admin and logs API (`/api/...`), read-only, behind an admin token. (Being written by a helper.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from engine.gateway import Gateway


def admin_routes(gateway: Gateway, admin_token: str | None) -> list[BaseRoute]:
    """Routes under `/api/`; with no admin token configured they answer 503 with the reason."""
    return []
