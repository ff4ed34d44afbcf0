"""The schema, one table per concept. Times are Unix epoch seconds (float) on both engines."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("scope", String(10), nullable=False),
    # sha256 hex of the token: a database leak does not leak usable tokens.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float),
    Column("revoked_at", Float),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("method", String(10), nullable=False),
    Column("content_type", String(200), nullable=False),
    Column("headers", Text, nullable=False),
    Column("body_template", Text),
    Column("preset", String(20)),
    Column("secret", Text),
    Column("ssl_verification", Boolean, nullable=False),
    Column("ca_file_path", Text),
    Column("timeout", Float, nullable=False),
    Column("auth", JSON),
    Column("cookies", JSON),
    Column("retry", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
    # Bumped on every change: dispatchers cache compiled templates per (id, version).
    Column("version", Integer, nullable=False),
    Column("disabled_reason", Text),
    Column("disabled_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

rules = Table(
    "rules",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False),
    Column("object_types", JSON, nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("conditions", JSON),
    Column("webhook_id", String(40), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

events = Table(
    "events",
    metadata,
    # Caller-chosen ids make ingestion idempotent: the same id twice is stored once.
    Column("id", String(200), primary_key=True),
    Column("object_type", String(200), nullable=False),
    Column("event", String(200), nullable=False),
    Column("timestamp", String(64), nullable=False),
    Column("username", String(200)),
    Column("request_id", String(200)),
    Column("data", JSON),
    Column("snapshots", JSON),
    Column("received_at", Float, nullable=False),
    Index(None, "received_at"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("event_id", String(200), ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("webhook_id", String(40), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    # pending | delivering | succeeded | failed
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    # When the delivery is due: the next try while pending, the lease expiry while delivering.
    Column("next_attempt_at", Float),
    # Which claim owns a delivering row; an outcome from an expired claim is ignored.
    Column("lease_id", String(40)),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index(
        "ix_deliveries_due",
        "next_attempt_at",
        sqlite_where=text("status IN ('pending', 'delivering')"),
        postgresql_where=text("status IN ('pending', 'delivering')"),
    ),
    Index(None, "webhook_id", "status"),
    Index(None, "event_id"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "delivery_id",
        String(40),
        ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("number", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("request", JSON, nullable=False),
    Column("response", JSON),
    Column("error", Text),
    Column("succeeded", Boolean, nullable=False),
    Index(None, "delivery_id"),
    Index(None, "started_at"),
)
