"""Health of one upstream server as the catalog sees it, and the error raised for failed calls."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ServerState(StrEnum):
    WAITING = "Waiting"
    """Connecting or syncing for the first time (or again after an error)."""
    READY = "Ready"
    ERROR = "Error"


class ErrorDetails(BaseModel):
    model_config = ConfigDict(frozen=True)

    cause: str
    """What went wrong, worded so an operator can act on it. Never contains a secret."""
    is_upstream: bool
    """True when the server answered with an error; False when it could not be reached."""
    mcp_code: int | None = None
    status_code: int | None = None
    """HTTP status of the failing response, for streamable-HTTP servers."""
    retryable: bool


class ServerStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    server_id: str
    state: ServerState
    error_details: ErrorDetails | None = None
    last_synced: datetime | None = None
    """When the last sync attempt finished, successful or not."""
    last_successful_sync: datetime | None = None
    tool_count: int = 0
    prompt_count: int = 0
    resource_count: int = 0
    """Resources and resource templates listed."""
    protocol_version: str | None = None
    """Protocol revision negotiated with the server, once connected."""


class UpstreamError(Exception):
    """A call could not reach its upstream server or could not complete there.

    A tool that ran and reported failure (`isError: true`) is not this: that is a normal result.
    """

    def __init__(self, server_id: str, details: ErrorDetails) -> None:
        self.server_id = server_id
        self.details = details
        self.message = f"upstream server '{server_id}': {details.cause}"
        self.retryable = details.retryable
        super().__init__(self.message)
