"""Per-client server selection: the servers a person turned off for one client grant in one
portal (`portal_servers` / `codemode.portal.disable`): one row per (grant, portal), read in
one point read on the request path; no row, every server is on. Rows go with their grant.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_server_selections",
        sa.Column(
            "grant_id",
            sa.String(32),
            nullable=False,
            comment="the client grant whose choice this is",
        ),
        sa.Column("portal_id", sa.String(32), nullable=False),
        sa.Column(
            "disabled_json", sa.Text(), nullable=False, comment="ids of the servers turned off"
        ),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["grants.id"],
            name="fk_client_server_selections_grant_id_grants",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("grant_id", "portal_id", name="pk_client_server_selections"),
    )


def downgrade() -> None:
    op.drop_table("client_server_selections")
