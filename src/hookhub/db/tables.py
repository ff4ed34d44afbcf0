"""The schema, one table per concept. Times are Unix epoch seconds (float) on both engines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeEngine

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _bytewise(length: int) -> TypeEngine[str]:
    """A machine-made string on the delivery path (an id, a key, a status): on PostgreSQL
    compared byte by byte (COLLATE "C"), as SQLite compares every string.

    Under the database's collation each comparison in their indexes is a `strcoll` call, even
    for C.UTF-8, whose order is the same as bytes' for UTF-8; a delivery writes about a dozen
    entries into such indexes (migration 0022, benchmarks/NOTES.md "Eleventh round")."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


tenants = Table(
    "tenants",
    metadata,
    # Chosen by the caller ([a-z0-9][a-z0-9_-]{0,63}): the product's own customer id.
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("metadata", JSON),
    # Across all the tenant's webhooks: deliveries per second, and sends in flight at once.
    Column("rate_limit", Float),
    Column("max_concurrency", Integer),
    # Rate limiting: the earliest time the tenant's next request (to any webhook) may start.
    Column("next_send_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The few tenants with limits: a claim looks for them twice (`queries.TENANT_HAS_LIMITS`,
    # spelled alike) without reading every tenant (0.1-0.15 ms each with 1,000 tenants).
    Index(
        "ix_tenants_limited",
        "id",
        sqlite_where=text("max_concurrency IS NOT NULL OR rate_limit IS NOT NULL"),
        postgresql_where=text("max_concurrency IS NOT NULL OR rate_limit IS NOT NULL"),
    ),
)


def _tenant(index: bool = True) -> Column[str]:
    """The tenant owning a row (null: no tenant); deleting the tenant deletes the row."""
    return Column(
        "tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), index=index
    )


def _unique_per_tenant(table: Table) -> None:
    """Names unique within each tenant, and among the rows of no tenant (a null tenant_id is
    distinct from every other in a unique index, so those take an index of their own)."""
    Index(f"uq_{table.name}_tenant_name", table.c.tenant_id, table.c.name, unique=True)
    Index(
        f"uq_{table.name}_name_no_tenant",
        table.c.name,
        unique=True,
        sqlite_where=text("tenant_id IS NULL"),
        postgresql_where=text("tenant_id IS NULL"),
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
    # A tenant's token sees and changes that tenant's objects only.
    _tenant(),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", _bytewise(40), primary_key=True),
    Column("name", String(200), nullable=False),
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
    # Receiver protection: sends in flight at once, and requests per second, across all workers.
    Column("max_concurrency", Integer),
    Column("rate_limit", Float),
    # Template: deliveries with the same rendered key are sent one at a time, in order.
    Column("ordering_key", Text),
    # Disable after this many consecutive failed attempts spanning at least the window (s).
    Column("failure_threshold", Integer),
    Column("failure_window", Float, nullable=False, server_default="0"),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("failing_since", Float),
    # Rate limiting: the earliest time the next request to this receiver may start.
    Column("next_send_at", Float),
    # mTLS client certificate and key (PEM paths); secrets replaced by rotation, still signing
    # until they expire: [{"secret": ..., "expires_at": epoch}].
    Column("client_cert_path", Text),
    Column("client_key_path", Text),
    Column("previous_secrets", JSON),
    # A broker destination's options ({"type": "amqp", "routing_key": ...}); null = HTTP.
    Column("destination", JSON),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    _tenant(index=False),  # uq_webhooks_tenant_name leads with it
    # The few webhooks with limits of their own: a claim finds them without reading the others
    # (by `enabled`: SQLite picks a partial index for an equality, not for a bare scan).
    Index(
        "ix_webhooks_limited",
        "enabled",
        sqlite_where=text("max_concurrency IS NOT NULL OR rate_limit IS NOT NULL"),
        postgresql_where=text("max_concurrency IS NOT NULL OR rate_limit IS NOT NULL"),
    ),
)
_unique_per_tenant(webhooks)

rules = Table(
    "rules",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("object_types", JSON, nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("conditions", JSON),
    Column("webhook_id", String(40), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Always its webhook's tenant: intake routes an event by the rules of its own tenant.
    _tenant(index=False),  # uq_rules_tenant_name leads with it
)
_unique_per_tenant(rules)

events = Table(
    "events",
    metadata,
    # The row's own key, unique across tenants: what deliveries refer to. An event of no tenant
    # is keyed by its id (its deliveries name it as before tenants); a tenant's gets a new key
    # (evk_...), as tenants may share ids (migration 0020).
    Column("key", _bytewise(200), primary_key=True),
    # Caller-chosen ids make ingestion idempotent: the same id twice within a tenant (or among
    # events of no tenant, through their key) is stored once.
    Column("id", String(200), nullable=False),
    Column("object_type", String(200), nullable=False),
    Column("event", String(200), nullable=False),
    Column("timestamp", String(64), nullable=False),
    Column("username", String(200)),
    Column("request_id", String(200)),
    Column("data", JSON),
    Column("snapshots", JSON),
    Column("received_at", Float, nullable=False),
    # The tenant it came from (null: none); it reaches only that tenant's webhooks. No foreign
    # key: events are a log, purged by retention, not deleted with their tenant.
    Column("tenant_id", String(64)),
    Index(None, "received_at"),
    # Partial, as the next: events of no tenant (every event before tenants) cost intake no
    # index entry. Leads with id: an installation-wide reader finds an id in every tenant.
    Index(
        "uq_events_id_tenant",
        "id",
        "tenant_id",
        unique=True,
        sqlite_where=text("tenant_id IS NOT NULL"),
        postgresql_where=text("tenant_id IS NOT NULL"),
    ),
    Index(
        "ix_events_tenant_received",
        "tenant_id",
        "received_at",
        sqlite_where=text("tenant_id IS NOT NULL"),
        postgresql_where=text("tenant_id IS NOT NULL"),
    ),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", _bytewise(40), primary_key=True),
    # Both null for a callback delivery, which carries its own target and payload instead.
    # event_id holds the event's key (events.key: its id when it has no tenant).
    Column("event_id", _bytewise(200), ForeignKey("events.key", ondelete="CASCADE")),
    Column("webhook_id", _bytewise(40), ForeignKey("webhooks.id", ondelete="CASCADE")),
    # pending | delivering | succeeded | failed
    Column("status", _bytewise(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    # When the delivery is due: the next try while pending, the lease expiry while delivering.
    Column("next_attempt_at", Float),
    # Which claim owns a delivering row; an outcome from an expired claim is ignored.
    Column("lease_id", String(40)),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    # The rendered ordering key: not sent while an older delivery with the same key is active.
    Column("ordering_key", _bytewise(500)),
    # Callback deliveries (DESIGN O12): the caller's spec and the payload to send.
    Column("callback", JSON),
    Column("payload", JSON),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index(
        "ix_deliveries_due",
        "next_attempt_at",
        sqlite_where=text("status IN ('pending', 'delivering')"),
        postgresql_where=text("status IN ('pending', 'delivering')"),
    ),
    Index(
        "ix_deliveries_webhook_due",
        "webhook_id",
        "next_attempt_at",
        sqlite_where=text("status IN ('pending', 'delivering')"),
        postgresql_where=text("status IN ('pending', 'delivering')"),
    ),
    Index(
        "ix_deliveries_ordering",
        "webhook_id",
        "ordering_key",
        sqlite_where=text("status IN ('pending', 'delivering') AND ordering_key IS NOT NULL"),
        postgresql_where=text("status IN ('pending', 'delivering') AND ordering_key IS NOT NULL"),
    ),
    Index(None, "webhook_id", "status"),
    Index(None, "event_id"),
    # Retention purges finished deliveries by age. Partial: a claim and a retry change
    # updated_at, and a full index would take a new entry for each (benchmarks/NOTES.md).
    Index(
        "ix_deliveries_finished",
        "updated_at",
        sqlite_where=text("status IN ('succeeded', 'failed')"),
        postgresql_where=text("status IN ('succeeded', 'failed')"),
    ),
)

# PostgreSQL: partitioned by started_at, one partition per day, and so its primary key there is
# (id, started_at) (migration 0010, hookhub.db.partitions).
attempts = Table(
    "attempts",
    metadata,
    Column("id", _bytewise(40), primary_key=True),
    # PostgreSQL does without this foreign key (migration 0023, `declared_in`): a trigger on
    # deliveries deletes their attempts, and an attempt goes in only while its delivery exists
    # (hookhub.db.queries.insert_attempts).
    Column(
        "delivery_id",
        _bytewise(40),
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

workflows = Table(
    "workflows",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    # The unguessable part of the trigger URL (/hooks/<key>), looked up on every trigger call.
    Column("key", String(64), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False),
    Column("trigger", JSON, nullable=False),
    Column("start", String(64), nullable=False),
    Column("nodes", JSON, nullable=False),
    # Bumped on every change: triggers and runners cache compiled workflows per (id, version).
    Column("version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "workflow_id",
        String(40),
        ForeignKey("workflows.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # async | sync: how the trigger answered; queued runs are always run by a runner.
    Column("mode", String(8), nullable=False),
    # queued | running | succeeded | failed
    Column("status", String(12), nullable=False),
    # The trigger request as received (credential headers masked, raw body byte-exact).
    Column("request", JSON, nullable=False),
    Column("vars", JSON),
    # The node log: each node's input, output, error and timing, in order.
    Column("nodes", JSON),
    Column("result", JSON),
    Column("error", Text),
    # Callback webhook (DESIGN O12) called when an async run finishes.
    Column("callback", JSON),
    # A run parked by a delay node: {"at": node id, "until", "vars", "nodes", "error"}.
    Column("resume", JSON),
    Column("rerun_of", String(40)),
    Column("attempts", Integer, nullable=False),
    # Which claim owns a running row; an outcome from an expired claim is ignored.
    Column("lease_id", String(40)),
    # When a queued run is due, or when a running run's lease expires (its runner died).
    Column("next_attempt_at", Float),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Index(
        "ix_runs_due",
        "next_attempt_at",
        sqlite_where=text("status IN ('queued', 'running')"),
        postgresql_where=text("status IN ('queued', 'running')"),
    ),
    Index(None, "workflow_id", "status"),
    # Finished runs only, for the run lists' status filters: queued and running runs are in
    # ix_runs_due already, and a trigger's insert and a claim then write no entry here.
    Index(
        "ix_runs_finished",
        "status",
        sqlite_where=text("status NOT IN ('queued', 'running')"),
        postgresql_where=text("status NOT IN ('queued', 'running')"),
    ),
)

run_dedupe = Table(
    "run_dedupe",
    metadata,
    # A trigger's dedupe header value, remembered until it expires: repeats within it don't run.
    Column(
        "workflow_id",
        String(40),
        ForeignKey("workflows.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(200), primary_key=True),
    Column("run_id", String(40), nullable=False),
    Column("expires_at", Float, nullable=False),
    Index(None, "expires_at"),
)

# -- web UI (docs/ui.md) ------------------------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("username", String(200), nullable=False, unique=True),
    # scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>: a per-user salt, never the password itself.
    Column("password_hash", String(300), nullable=False),
    # The user's capture inbox (/capture/<inbox_key>) and the secret that checks its signatures.
    Column("inbox_key", String(64), nullable=False, unique=True),
    Column("inbox_secret", Text),
    # What the user may do in the UI: viewer (read) < editor (change) < admin (users, tokens).
    Column("role", String(10), nullable=False),
    Column("created_at", Float, nullable=False),
)

captures = Table(
    "captures",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("inbox_key", String(64), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("method", String(16), nullable=False),
    Column("path", Text, nullable=False),
    Column("query", Text, nullable=False),
    Column("headers", JSON, nullable=False),
    # Up to the capture size limit; `truncated` says whether more was sent.
    Column("body", LargeBinary, nullable=False),
    Column("truncated", Boolean, nullable=False),
    # The receiver's signature lines ("Signature webhook-signature: valid", ...).
    Column("verdict", JSON, nullable=False),
    Index(None, "inbox_key", "received_at"),
)

ui_keys = Table(
    "ui_keys",
    metadata,
    # Generated secrets every node must share, e.g. the session signing key when
    # HOOKHUB_SECRET_KEY is unset.
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    # amqp://, nats://, redis://, mqtt:// ...: the scheme picks the broker (inbound/sources).
    Column("url", Text, nullable=False),
    # The queue (AMQP), subject (NATS), stream (Redis) or topic (MQTT) consumed.
    Column("address", String(1000), nullable=False),
    # Redis consumer group, NATS durable consumer, MQTT shared-subscription group.
    Column("consumer_group", String(200), nullable=False),
    Column("mapping", JSON),
    Column("enabled", Boolean, nullable=False),
    Column("tenant_id", String(200)),  # reserved for tenants (DESIGN P8); stored, not used
    # Messages refused (not JSON, a template failed, not an event): counted, the last one's why.
    Column("failures", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("last_error_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

source_failures = Table(
    "source_failures",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("source_id", String(40), ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", String(200)),
    Column("error", Text, nullable=False),
    Column("body", Text),  # the message's first characters (see inbound.sources.base)
    Column("created_at", Float, nullable=False),
    Index(None, "source_id", "id"),
)

# The event-type catalog: names events may carry (`object_type + "." + event`), each with an
# optional JSON Schema (Draft 2020-12) that intake checks the event's `data` against.
event_types = Table(
    "event_types",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("description", Text),
    Column("schema", JSON),
    Column("examples", JSON),
    Column("deprecated", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", String(40), primary_key=True),  # time-ordered: pages go by id
    Column("at", Float, nullable=False),
    # Who: a UI user, an API token, a portal link, the CLI or `apply`, hookhub itself.
    Column("actor_kind", String(10), nullable=False),
    Column("actor_id", String(40)),
    Column("actor_name", String(200)),
    Column("tenant_id", String(64)),
    Column("action", String(60), nullable=False),  # webhook.created, token.revoked, ...
    Column("object_type", String(20), nullable=False),
    Column("object_id", String(200)),
    Column("object_name", String(200)),
    # The fields that changed, each {"from", "to"} as shown (secrets masked), or null.
    Column("changes", JSON),
    Index(None, "at"),
)

portal_links = Table(
    "portal_links",
    metadata,
    Column("id", String(40), primary_key=True),
    # The tenant whose customer opens the portal; the link goes with the tenant.
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    # sha256 hex of the link's opaque part, like API tokens: a database leak opens no portal.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("read_only", Boolean, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Index(None, "tenant_id"),
    Index(None, "expires_at"),  # retention finds the links long expired
)


def declared_in(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's `include_object` for comparing a `dialect` database with this schema: all
    of it, but on PostgreSQL the attempts' foreign key, which it does without (see attempts)."""
    key = "fk_attempts_delivery_id_deliveries"

    def declared(_: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return not (dialect == "postgresql" and type_ == "foreign_key_constraint" and name == key)

    return declared
