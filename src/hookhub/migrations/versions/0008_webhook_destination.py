"""webhooks: a broker destination (AMQP, NATS JetStream, Redis Streams, MQTT)

`destination` holds the options of the destination the webhook's URL scheme selects
(`{"type": "amqp", "exchange": "", "routing_key": "..."}`); null for HTTP(S) webhooks.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch_op:
        batch_op.add_column(sa.Column("destination", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch_op:
        batch_op.drop_column("destination")
