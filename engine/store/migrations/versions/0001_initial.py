"""The first tables: people, OAuth clients, grants, authorization codes, tokens, upstream
OAuth states.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "issuer", sa.String(512), nullable=False, comment="the identity provider's issuer"
        ),
        sa.Column("sub", sa.String(255), nullable=False, comment="the subject at that issuer"),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
        sa.UniqueConstraint("issuer", "sub", name="uq_people_issuer_sub"),
    )
    op.create_index("ix_people_email", "people", ["email"])
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("client_name", sa.String(255), nullable=True),
        sa.Column(
            "metadata_json",
            sa.Text(),
            nullable=False,
            comment="RFC 7591 client metadata, no secret",
        ),
        sa.Column(
            "client_secret_enc", sa.Text(), nullable=True, comment="AES-GCM, engine.store.secrets"
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_oauth_clients"),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column(
            "resource", sa.String(2048), nullable=False, comment="the portal (RFC 8707 resource)"
        ),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False, comment="space-separated"),
        sa.Column("created_at", UTCDateTime(), nullable=False, comment="when the person consented"),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_reason", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_grants"),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.client_id"],
            ondelete="CASCADE",
            name="fk_grants_client_id_oauth_clients",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], ondelete="CASCADE", name="fk_grants_person_id_people"
        ),
    )
    op.create_index("ix_grants_person_id", "grants", ["person_id"])
    op.create_index("ix_grants_client_id", "grants", ["client_id"])
    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(64), nullable=False, comment="SHA-256 hex of the code"),
        sa.Column("grant_id", sa.String(32), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("redirect_uri_provided_explicitly", sa.Boolean(), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name="pk_authorization_codes"),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["grants.id"],
            ondelete="CASCADE",
            name="fk_authorization_codes_grant_id_grants",
        ),
    )
    op.create_index("ix_authorization_codes_grant_id", "authorization_codes", ["grant_id"])
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.String(64), nullable=False, comment="SHA-256 hex of the token"),
        sa.Column("kind", sa.String(16), nullable=False, comment="access | refresh"),
        sa.Column("grant_id", sa.String(32), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("consumed_at", UTCDateTime(), nullable=True, comment="refresh token rotated"),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_tokens"),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], ondelete="CASCADE", name="fk_tokens_grant_id_grants"
        ),
    )
    op.create_index("ix_tokens_grant_id", "tokens", ["grant_id"])
    op.create_table(
        "upstream_oauth_states",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column(
            "person_id",
            sa.Integer(),
            nullable=True,
            comment="null: the server's one admin credential",
        ),
        sa.Column("server_id", sa.String(255), nullable=False),
        sa.Column("tokens_enc", sa.Text(), nullable=True, comment="AES-GCM, engine.store.secrets"),
        sa.Column(
            "client_info_enc", sa.Text(), nullable=True, comment="AES-GCM, engine.store.secrets"
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_upstream_oauth_states"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            ondelete="CASCADE",
            name="fk_upstream_oauth_states_person_id_people",
        ),
        sa.UniqueConstraint(
            "person_id", "server_id", name="uq_upstream_oauth_states_person_id_server_id"
        ),
    )


def downgrade() -> None:
    for table in (
        "upstream_oauth_states",
        "tokens",
        "authorization_codes",
        "grants",
        "oauth_clients",
        "people",
    ):
        op.drop_table(table)
