"""The store's tables, as SQLAlchemy Core `Table`s on one `MetaData`.

The migrations in `engine/store/migrations/versions` create exactly these (a test compares
them with Alembic's autogenerate); change both together. Times are timezone-aware UTC
(`UTCDateTime`); secrets are never stored in the clear: portal tokens and authorization codes
as SHA-256 hex digests, upstream tokens and client secrets as AES-GCM ciphertext
(`engine.store.secrets`). Column types are portable: SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

# Constraint names are fixed so later migrations (and PostgreSQL) can refer to them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every dialect. SQLite has no time zones: values are
    stored as naive UTC and read back aware. Naive datetimes are refused (a local time stored
    as UTC would shift every expiry)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issuer", String(512), nullable=False, comment="the identity provider's issuer"),
    Column("sub", String(255), nullable=False, comment="the subject at that issuer"),
    Column("email", String(320), nullable=True),
    Column("name", String(255), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column(
        "groups_json",
        Text,
        nullable=True,
        comment="JSON list of the groups at the last sign-in",
    ),
    UniqueConstraint("issuer", "sub"),
    Index(None, "email"),
)

oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("client_id", String(255), primary_key=True),
    Column("client_name", String(255), nullable=True),
    Column("metadata_json", Text, nullable=False, comment="RFC 7591 client metadata, no secret"),
    Column("client_secret_enc", Text, nullable=True, comment="AES-GCM, engine.store.secrets"),
    Column("created_at", UTCDateTime, nullable=False),
)

grants = Table(
    "grants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("resource", String(2048), nullable=False, comment="the portal (RFC 8707 resource)"),
    Column(
        "client_id",
        String(255),
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("person_id", Integer, ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
    Column("scopes", Text, nullable=False, comment="space-separated"),
    Column("created_at", UTCDateTime, nullable=False, comment="when the person consented"),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("revoked_reason", String(64), nullable=True),
    Index(None, "person_id"),
    Index(None, "client_id"),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True, comment="SHA-256 hex of the code"),
    Column("grant_id", String(32), ForeignKey("grants.id", ondelete="CASCADE"), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("redirect_uri_provided_explicitly", Boolean, nullable=False),
    Column("code_challenge", String(128), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Index(None, "grant_id"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True, comment="SHA-256 hex of the token"),
    Column("kind", String(16), nullable=False, comment="access | refresh"),
    Column("grant_id", String(32), ForeignKey("grants.id", ondelete="CASCADE"), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("consumed_at", UTCDateTime, nullable=True, comment="refresh token rotated"),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index(None, "grant_id"),
)

upstream_oauth_states = Table(
    "upstream_oauth_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "person_id",
        Integer,
        ForeignKey("people.id", ondelete="CASCADE"),
        nullable=True,
        comment="null: the server's one admin credential",
    ),
    Column("server_id", String(255), nullable=False),
    Column("tokens_enc", Text, nullable=True, comment="AES-GCM, engine.store.secrets"),
    Column("client_info_enc", Text, nullable=True, comment="AES-GCM, engine.store.secrets"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column(
        "expires_at",
        UTCDateTime,
        nullable=True,
        comment="when the access token expires (null: unknown)",
    ),
    Column(
        "connected_at",
        UTCDateTime,
        nullable=True,
        comment="when a person last authorized (not refreshed) this credential",
    ),
    Column(
        "expired_at",
        UTCDateTime,
        nullable=True,
        comment="when its refresh was refused (null: not expired)",
    ),
    Column(
        "refreshing_by",
        String(32),
        nullable=True,
        comment="the process refreshing it now (a random name), or null",
    ),
    Column(
        "refreshing_until",
        UTCDateTime,
        nullable=True,
        comment="when that turn lapses if its process died mid-refresh",
    ),
    UniqueConstraint("person_id", "server_id"),
)

upstream_auth_flows = Table(
    "upstream_auth_flows",
    metadata,
    Column("state_hash", String(64), primary_key=True, comment="SHA-256 hex of the state"),
    Column("server_id", String(255), nullable=False),
    Column(
        "person_id",
        Integer,
        ForeignKey("people.id", ondelete="CASCADE"),
        nullable=True,
        comment="null: the server's admin credential",
    ),
    Column("return_to", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime, nullable=True, comment="the callback came (single use)"),
    Column(
        "callback_enc",
        Text,
        nullable=True,
        comment="AES-GCM, engine.store.secrets: the callback's code or error",
    ),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("error", Text, nullable=True, comment="why the flow failed; no secret"),
    Index(None, "server_id", "person_id"),
    Index(None, "expires_at"),
)

admin_tokens = Table(
    "admin_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, comment="who the token is (created_by etc.)"),
    Column("sha256", String(64), nullable=False, comment="SHA-256 hex of the token"),
    Column("permission", String(16), nullable=False, comment="read | write"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    UniqueConstraint("name"),
    UniqueConstraint("sha256"),
)

config_objects = Table(
    "config_objects",
    metadata,
    Column("kind", String(16), primary_key=True, comment="server | portal"),
    Column("id", String(32), primary_key=True),
    Column("position", Integer, nullable=False, comment="order in the config"),
    Column("body_json", Text, nullable=False, comment="the config entry as JSON, no secret"),
    Column("secrets_enc", Text, nullable=True, comment="AES-GCM, engine.store.secrets"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False, comment="admin token name, or seed/import"),
    Column("modified_at", UTCDateTime, nullable=False),
    Column("modified_by", String(64), nullable=False),
)

config_audit = Table(
    "config_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("by", String(64), nullable=False, comment="admin token name, or seed/import"),
    Column("action", String(16), nullable=False, comment="create | update | delete | seed | ..."),
    Column("kind", String(16), nullable=False, comment="server | portal | config"),
    Column("object_id", String(32), nullable=False),
    Column("changes_json", Text, nullable=False, comment="field: [before, after]; no secret"),
    Index(None, "at"),
)

LOG_ID = BigInteger().with_variant(Integer(), "sqlite")
"""Request log row ids: 64-bit on PostgreSQL (a busy log passes 2**31 rows), SQLite's
INTEGER on SQLite (only that is its auto-incrementing row id)."""

request_log = Table(
    "request_log",
    metadata,
    Column("id", LOG_ID, primary_key=True, autoincrement=True),
    Column("time", UTCDateTime, nullable=False),
    Column("portal", Text, nullable=False),
    Column("user", Text, nullable=True, comment="who called, as the request log names them"),
    Column("kind", String(16), nullable=False, comment="tool_call | code_run | ..."),
    Column("status", String(8), nullable=False, comment="ok | error"),
    Column("server", Text, nullable=True),
    Column("capability", Text, nullable=False, comment="tool name, code/execute, or URI"),
    Column("duration_ms", Float, nullable=False),
    Column("request_bytes", BigInteger, nullable=False),
    Column("response_bytes", BigInteger, nullable=False),
    Column("error", Text, nullable=True, comment="short cause of a failure"),
    Column("dlp", Text, nullable=True, comment="DLP findings as JSON, never matched text"),
    Index(None, "portal", "time"),
    Index(None, "server", "time"),
    Index(None, "time"),
)

client_server_selections = Table(
    "client_server_selections",
    metadata,
    Column(
        "grant_id",
        String(32),
        ForeignKey("grants.id", ondelete="CASCADE"),
        primary_key=True,
        comment="the client grant whose choice this is",
    ),
    Column("portal_id", String(32), primary_key=True),
    Column("disabled_json", Text, nullable=False, comment="ids of the servers turned off"),
    Column("updated_at", UTCDateTime, nullable=False),
)

connect_prompts = Table(
    "connect_prompts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", Integer, ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
    Column("portal_id", String(255), nullable=False),
    Column("server_id", String(255), nullable=False),
    Column("asked_at", UTCDateTime, nullable=False),
    UniqueConstraint("person_id", "portal_id", "server_id"),
    comment="on_behalf servers a person was shown or asked to connect, per portal",
)
