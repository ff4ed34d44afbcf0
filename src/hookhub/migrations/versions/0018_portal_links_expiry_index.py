"""ix_portal_links_expires_at: retention finds the portal links long expired without reading
every link

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_portal_links_expires_at"), "portal_links", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_links_expires_at"), table_name="portal_links")
