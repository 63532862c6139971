"""The codemode engine: upstream catalog, curation, the four tool surfaces and the code
executor, embeddable in any Python application.

    from engine import Config, Gateway, Surface

    config = Config.load("portal.toml")
    async with Gateway.for_portal(config) as portal:
        tools = portal.list_tools(Surface.CODEMODE)
        result = await portal.call_tool(Surface.CODEMODE, "code", {"code": "..."})
"""

from engine.config import Config, ConfigError, PortalConfig, ServerConfig
from engine.gateway import Gateway
from engine.portal import Portal, PortalError
from engine.status import ErrorDetails, ServerState, ServerStatus, UpstreamError
from engine.surfaces import Surface, SurfaceError, surface_from_query

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
