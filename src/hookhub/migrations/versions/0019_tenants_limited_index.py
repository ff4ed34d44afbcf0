"""ix_tenants_limited: the tenants with limits, found by a claim without reading every tenant

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIMITED = "max_concurrency IS NOT NULL OR rate_limit IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_tenants_limited",
        "tenants",
        ["id"],
        sqlite_where=sa.text(LIMITED),
        postgresql_where=sa.text(LIMITED),
    )


def downgrade() -> None:
    op.drop_index("ix_tenants_limited", table_name="tenants")
