"""The schema built by migrations is the schema the code declares, on both engines."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from hookhub.db import changes, partitions
from hookhub.db.portal_links import new_link
from hookhub.db.store import Store
from hookhub.db.tables import declared_in, metadata
from hookhub.migrations import alembic_config, upgrade_async
from hookhub.services import users


async def test_migrations_match_the_declared_schema(store: Store) -> None:
    def diff(connection: Connection) -> list[Any]:
        # The partitions of attempts (PostgreSQL) hold what the partitioned table declares;
        # PostgreSQL keeps the attempts' foreign key by other means (migration 0023).
        opts = {
            "include_name": partitions.declared,
            "include_object": declared_in(connection.dialect.name),
        }
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_postgresql_columns_have_their_declared_collations(store: Store) -> None:
    """Alembic does not compare collations: the delivery path's ids, keys and statuses compare
    as bytes (migration 0022), in attempts' partitions too, and no other column does."""
    if store.dialect != "postgresql":
        return
    await store.partitions.prepare(time.time())  # partitions made after the migration
    dialect = postgresql.dialect()
    declared = {
        (table.name, column.name): collation
        for table in metadata.tables.values()
        for column in table.columns
        if (collation := getattr(column.type.dialect_impl(dialect), "collation", None))
    }
    async with store.read() as conn:
        found = (
            await conn.exec_driver_sql(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND collation_name IS NOT NULL"
            )
        ).all()
    assert declared
    parent = partitions.PREFIX
    assert {
        ("attempts" if table.startswith(parent) else table, column, collation)
        for table, column, collation in found
    } == {(table, column, collation) for (table, column), collation in declared.items()}


async def test_postgresql_analyzes_deliveries_after_one_percent_changes(store: Store) -> None:
    """A large new backlog is analyzed soon, so the claim keeps its index (migration 0005)."""
    if store.dialect != "postgresql":
        return
    async with store.read() as conn:
        options = (
            await conn.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE relname = 'deliveries'"
            )
        ).scalar_one()
    assert "autovacuum_analyze_scale_factor=0.01" in options


async def test_users_there_were_become_admins(database_url: str) -> None:
    """Migration 0011: the users there were could do everything, so they keep doing it."""
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0010")
    store = Store.open(database_url)
    try:
        async with store.write() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, inbox_key, created_at)"
                    " VALUES ('usr_1', 'ada', 'scrypt$x', 'key1', 1.0)"
                )
            )
    finally:
        await store.close()
    await upgrade_async(database_url)
    store = Store.open(database_url)  # a new one: the driver caches statements per table
    try:
        user = await users.user_named(store, "ada")
        assert user is not None and user["role"] == "admin"
        # New users name their role: the column keeps no default.
        with pytest.raises(IntegrityError):
            async with store.write() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO users (id, username, password_hash, inbox_key, created_at)"
                        " VALUES ('usr_2', 'bob', 'scrypt$x', 'key2', 1.0)"
                    )
                )
    finally:
        await store.close()


async def test_the_event_type_catalog_starts_empty_and_keeps_what_was_there(
    database_url: str,
) -> None:
    """Migration 0012 adds the event-type catalog, empty; the rules there were stay as they
    were (an empty catalog checks no event and warns about no rule)."""
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0011")
    store = Store.open(database_url)
    try:
        async with store.write() as conn:
            await conn.execute(
                text(
                    "INSERT INTO webhooks (id, name, url, method, content_type, headers,"
                    " ssl_verification, timeout, retry, enabled, version, created_at, updated_at)"
                    " VALUES ('wh_1', 'w', 'http://x', 'POST', 'application/json', '', true,"
                    " 5, '{}', true, 1, 1.0, 1.0)"
                )
            )
    finally:
        await store.close()
    await upgrade_async(database_url)
    store = Store.open(database_url)
    try:
        assert (await store.webhooks.get("wh_1"))["name"] == "w"
        assert await store.event_types.every() == []
        assert await store.event_types.validators() == {}
    finally:
        await store.close()


async def test_portal_links_start_empty_and_go_with_their_tenant(database_url: str) -> None:
    """Migration 0015 adds portal links, none at first; the tenants there were stay, and a
    tenant's deletion takes its links with it (the foreign key cascades)."""
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0014")
    store = Store.open(database_url)
    try:
        async with store.write() as conn:
            await conn.execute(
                text(
                    "INSERT INTO tenants (id, name, created_at, updated_at)"
                    " VALUES ('acme', 'Acme', 1.0, 1.0)"
                )
            )
    finally:
        await store.close()
    await upgrade_async(database_url)
    store = Store.open(database_url)
    try:
        assert await store.portal_links.page(None, 10) == ([], None)
        link, _ = new_link("acme", False, 2e9)
        await store.commit([changes.Insert("portal_link", link)])
        await store.tenants.delete("acme")
        assert await store.portal_links.page(None, 10) == ([], None)
        assert link["tenant_id"] == "acme"
    finally:
        await store.close()
