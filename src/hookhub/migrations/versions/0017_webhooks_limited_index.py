"""ix_webhooks_limited: the webhooks with limits of their own, found by a claim without reading
every webhook

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIMITED = "max_concurrency IS NOT NULL OR rate_limit IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_webhooks_limited",
        "webhooks",
        ["enabled"],
        sqlite_where=sa.text(LIMITED),
        postgresql_where=sa.text(LIMITED),
    )


def downgrade() -> None:
    op.drop_index("ix_webhooks_limited", table_name="webhooks")
