"""The codemode engine: upstream catalog, curation, the four tool surfaces and the code
executor, embeddable in any Python application.

    from engine import Config, Gateway, Surface

    config = Config.load("portal.toml")
    async with Gateway.for_portal(config) as portal:
        tools = portal.list_tools(Surface.CODEMODE)
        result = await portal.call_tool(Surface.CODEMODE, "code", {"code": "..."})

The names below are imported on first use, so importing a submodule (`python -m engine.cli`)
does not load the whole engine before that module's first line runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.config import Config, ConfigError, PortalConfig, ServerConfig
    from engine.gateway import Gateway
    from engine.portal import Portal, PortalError
    from engine.status import ErrorDetails, ServerState, ServerStatus, UpstreamError
    from engine.surfaces import Surface, SurfaceError, surface_from_query

_HOMES = {
    "Config": "engine.config",
    "ConfigError": "engine.config",
    "PortalConfig": "engine.config",
    "ServerConfig": "engine.config",
    "Gateway": "engine.gateway",
    "Portal": "engine.portal",
    "PortalError": "engine.portal",
    "ErrorDetails": "engine.status",
    "ServerState": "engine.status",
    "ServerStatus": "engine.status",
    "UpstreamError": "engine.status",
    "Surface": "engine.surfaces",
    "SurfaceError": "engine.surfaces",
    "surface_from_query": "engine.surfaces",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "Config",
    "ConfigError",
    "ErrorDetails",
    "Gateway",
    "Portal",
    "PortalConfig",
    "PortalError",
    "ServerConfig",
    "ServerState",
    "ServerStatus",
    "Surface",
    "SurfaceError",
    "UpstreamError",
    "surface_from_query",
]
