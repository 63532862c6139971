"""Response shapes of the admin and logs API (`/api/...`), and how they are built from a
running gateway. Field names follow the public MCP-portal admin API (`result`, `success`,
`errors`, `messages`; portals with `servers[]`, each with `auth_type`, `status`,
`error_details`, `tools`, `updated_tools`, `last_synced`, ...).

Secrets never enter these models: no bearer token, no token source, no API-key hash, no
environment of a stdio server, and an upstream URL is shown without credentials or query.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from engine.config import Override, ServerConfig
from engine.status import ServerState, ServerStatus

if TYPE_CHECKING:
    from engine.curation import CuratedPrompt, CuratedTool
    from engine.portal import Portal
    from engine.requestlog import RequestRecord

T = TypeVar("T")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)


class Message(_Out):
    code: int
    """Numeric code; for errors, the HTTP status of the response."""
    message: str
    """What happened, worded so a person can act on it."""


class Envelope(_Out, Generic[T]):
    """Every response, success or error, has this shape."""

    result: T | None
    success: bool
    errors: list[Message] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)


class ErrorEnvelope(_Out):
    result: None = None
    success: Literal[False] = False
    errors: list[Message] = Field(min_length=1)
    messages: list[Message] = Field(default_factory=list)


class ErrorDetailsOut(_Out):
    cause: str
    """Underlying error message."""
    is_upstream: bool
    """True: the server answered with an error. False: it could not be reached."""
    mcp_code: int | None = None
    """MCP protocol error code."""
    status_code: int | None = None
    """HTTP status code from the server."""
    retryable: bool
    """Whether the error is transient and worth retrying."""


class CapabilityOut(_Out):
    """One upstream tool or prompt as this portal exposes it."""

    name: str
    """The upstream name."""
    alias: str
    """The name clients see (namespaced `<server_id>_...`, curated alias applied)."""
    enabled: bool
    description: str


class OverrideOut(_Out):
    """Curation of one tool or prompt: server-level and portal-level entries merged."""

    name: str
    enabled: bool | None = None
    server_alias: str | None = None
    server_description: str | None = None
    portal_alias: str | None = None
    portal_description: str | None = None
    require_approval: bool | None = None
    """A person approves each call (any level saying `true` asks)."""


class ServerOut(_Out):
    id: str
    name: str
    description: str
    hostname: str | None
    """URL of a streamable-HTTP server (no credentials, no query); null for stdio."""
    transport: Literal["http", "stdio"]
    auth_type: str
    default_disabled: bool
    status: ServerState
    error: str | None = None
    """The cause of an Error status (same text as error_details.cause)."""
    error_details: ErrorDetailsOut | None = None
    protocol_version: str | None = None
    tool_count: int
    """Tools the server offers upstream (enabled or not in this portal)."""
    prompt_count: int
    tools: list[CapabilityOut]
    prompts: list[CapabilityOut]
    updated_tools: list[OverrideOut]
    updated_prompts: list[OverrideOut]
    last_synced: datetime | None = None
    """When the last sync attempt finished, successful or not."""
    last_successful_sync: datetime | None = None


class PortalOut(_Out):
    id: str
    hostname: str | None
    name: str
    description: str
    allow_code_mode: bool
    """Whether the code surfaces (`search_and_execute`, code mode) are served."""
    requires_api_key: bool
    """Whether clients must present an API key (the keys themselves are never shown)."""
    servers: list[ServerOut]


class SyncOut(_Out):
    """A server's state right after a sync."""

    id: str
    status: ServerState
    error: str | None = None
    error_details: ErrorDetailsOut | None = None
    tool_count: int
    prompt_count: int
    last_synced: datetime | None = None
    last_successful_sync: datetime | None = None


class DlpEntryOut(_Out):
    """One DLP finding of a logged call."""

    profile: str
    path: str
    action: Literal["block", "redact", "log"]


class LogEntryOut(_Out):
    """One upstream tool call, one `code`/`execute` run, or one person's answer to an
    approval request (`approval`: ok approved, error refused). No arguments, no results."""

    time: datetime
    portal: str
    kind: Literal["tool_call", "code_run", "resource_read", "approval"]
    status: Literal["ok", "error"]
    capability: str
    """Tool name: client-visible for direct calls, `code`/`execute` for runs."""
    server: str | None = None
    user: str | None = None
    duration_ms: float
    request_bytes: int
    response_bytes: int
    error: str | None = None
    dlp: list[DlpEntryOut] = []
    """What DLP found: profile, argument or result path, action (never the matched text)."""


class AuditEntryOut(_Out):
    """One configuration write's effect on one object (secrets only as `"<set>"`)."""

    at: datetime
    by: str
    """The admin token's name, or `seed` / `import`."""
    action: str
    """`create`, `update`, `delete`, `seed`, `import` or `unchanged`."""
    kind: str
    """`server`, `portal`, or `config` for a write that changed nothing."""
    id: str
    changes: dict[str, Any]
    """Field: `{before, after}`."""


# --------------------------------------------------------------------------- builders


def public_url(url: str) -> str:
    """`url` without user info, query or fragment, where credentials sometimes hide."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _error_fields(status: ServerStatus) -> tuple[str | None, ErrorDetailsOut | None]:
    if status.error_details is None:
        return None, None
    details = ErrorDetailsOut.model_validate(status.error_details.model_dump())
    return details.cause, details


def _merge_overrides(server: list[Override], portal: list[Override]) -> list[OverrideOut]:
    """One entry per name: server-level fields, then portal-level ones on top."""
    merged: dict[str, dict[str, object]] = {}
    for entry in [*server, *portal]:
        fields = {k: v for k, v in entry.model_dump().items() if v is not None}
        if merged.get(entry.name, {}).get("require_approval"):
            fields.pop("require_approval", None)  # approval adds up: a portal cannot waive it
        merged.setdefault(entry.name, {}).update(fields)
    return [OverrideOut.model_validate(v) for v in merged.values()]


def _capability(item: CuratedTool | CuratedPrompt) -> CapabilityOut:
    return CapabilityOut(
        name=item.upstream_name, alias=item.name, enabled=item.enabled, description=item.description
    )


def _waiting(server_id: str) -> ServerStatus:
    return ServerStatus(server_id=server_id, state=ServerState.WAITING)


def server_out(portal: Portal, server: ServerConfig, status: ServerStatus | None) -> ServerOut:
    status = status or _waiting(server.id)
    ref = next(r for r in portal.config.servers if r.server_id == server.id)
    curation = portal.view.curation
    error, details = _error_fields(status)
    return ServerOut(
        id=server.id,
        name=server.name or server.id,
        description=server.description,
        hostname=public_url(server.url) if server.url else None,
        transport="http" if server.url else "stdio",
        auth_type=server.auth_type,
        default_disabled=(
            ref.default_disabled if ref.default_disabled is not None else server.default_disabled
        ),
        status=status.state,
        error=error,
        error_details=details,
        protocol_version=status.protocol_version,
        tool_count=status.tool_count,
        prompt_count=status.prompt_count,
        tools=[_capability(t) for t in curation.tools if t.server_id == server.id],
        prompts=[_capability(p) for p in curation.prompts if p.server_id == server.id],
        updated_tools=_merge_overrides(list(server.updated_tools), list(ref.updated_tools)),
        updated_prompts=_merge_overrides(list(server.updated_prompts), list(ref.updated_prompts)),
        last_synced=status.last_synced,
        last_successful_sync=status.last_successful_sync,
    )


def portal_out(portal: Portal, servers: dict[str, ServerConfig]) -> PortalOut:
    statuses = portal.status()
    config = portal.config
    return PortalOut(
        id=config.id,
        hostname=config.hostname,
        name=config.name or config.id,
        description=config.description,
        allow_code_mode=config.allow_code_mode,
        requires_api_key=bool(config.api_keys or config.api_keys_file),
        servers=[
            server_out(portal, servers[ref.server_id], statuses.get(ref.server_id))
            for ref in config.servers
            if ref.server_id in servers
        ],
    )


def sync_out(status: ServerStatus) -> SyncOut:
    error, details = _error_fields(status)
    return SyncOut(
        id=status.server_id,
        status=status.state,
        error=error,
        error_details=details,
        tool_count=status.tool_count,
        prompt_count=status.prompt_count,
        last_synced=status.last_synced,
        last_successful_sync=status.last_successful_sync,
    )


def log_entry_out(record: RequestRecord) -> LogEntryOut:
    return LogEntryOut.model_validate(record.to_json())
