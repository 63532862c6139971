"""Upstream OAuth tokens: when the access token expires. The SDK's `OAuthToken` carries only
`expires_in`, relative to when it was issued, so a stored token's expiry is kept beside it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("upstream_oauth_states") as batch:
        batch.add_column(
            sa.Column(
                "expires_at",
                UTCDateTime(),
                nullable=True,
                comment="when the access token expires (null: unknown)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("upstream_oauth_states") as batch:
        batch.drop_column("expires_at")
