"""Portal configuration: pydantic models mirroring the public MCP-portal admin API fields.

(Skeleton: the config helper completes loading, validation messages and the JSON Schema.)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AuthType = Literal["unauthenticated", "bearer", "oauth"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Strict):
    """One upstream MCP server: streamable HTTP (`url`) or stdio (`command`)."""

    id: str = Field(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    name: str = ""
    description: str = ""
    url: str | None = None
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    auth_type: AuthType = "unauthenticated"
    bearer_token_env: str | None = None
    """Name of the environment variable holding the bearer token (never the token itself)."""
    bearer_token_file: str | None = None
    """Path of a file holding the bearer token."""
    default_disabled: bool = False
    call_timeout_s: float = 60.0
    sync_interval_s: float = 24 * 3600.0
    connect_timeout_s: float = 30.0
