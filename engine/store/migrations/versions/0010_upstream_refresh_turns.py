"""Upstream OAuth credentials: whose turn it is to refresh. Refresh tokens rotate, so two
processes or replicas that refreshed one credential at once sent one refresh token twice, and
an authorization server with reuse detection revoked the grant. The one that sets
`refreshing_by` (while `refreshing_until` has passed or is null) refreshes; the others wait,
then read the tokens it stored.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.schema import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("upstream_oauth_states") as batch:
        batch.add_column(
            sa.Column(
                "refreshing_by",
                sa.String(32),
                nullable=True,
                comment="the process refreshing it now (a random name), or null",
            )
        )
        batch.add_column(
            sa.Column(
                "refreshing_until",
                UTCDateTime(),
                nullable=True,
                comment="when that turn lapses if its process died mid-refresh",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("upstream_oauth_states") as batch:
        batch.drop_column("refreshing_until")
        batch.drop_column("refreshing_by")
