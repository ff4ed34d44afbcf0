"""The store: every read and write hookhub makes, by name. Nothing else executes SQL."""

from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hookhub.core import limits
from hookhub.db import changes, crud, direct, ingest, notify, queries
from hookhub.db.activity import ActivityStore
from hookhub.db.audit import AuditStore
from hookhub.db.database import Database
from hookhub.db.engine import SQLITE_BUSY_TIMEOUT
from hookhub.db.event_types import EventTypeStore, SchemaCache
from hookhub.db.history import DELIVERY_ROWS, HistoryStore
from hookhub.db.ingest import Router, Target
from hookhub.db.partitions import PartitionStore
from hookhub.db.portal_links import PortalLinkStore
from hookhub.db.records import (
    AttemptRecord,
    Claim,
    ClaimedDelivery,
    DeliveryOutcome,
    DisabledWebhook,
    Health,
    StoredEvent,
    WebhookConfig,
)
from hookhub.db.records import Row as Row  # re-exported: the doors read rows through the store
from hookhub.db.rules import RuleStore
from hookhub.db.runs import RunStore
from hookhub.db.sources import SourceStore
from hookhub.db.tables import (
    attempts,
    deliveries,
    events,
    portal_links,
    rules,
    source_failures,
    tokens,
    webhooks,
)
from hookhub.db.tenants import TenantStore
from hookhub.db.token_cache import TokenCache
from hookhub.db.tokens import TokenStore
from hookhub.db.webhooks import WebhookStore
from hookhub.db.workflows import WorkflowStore
from hookhub.errors import Conflict, NotFound
from hookhub.ids import id_time, new_id

log = logging.getLogger("hookhub.store")

# Webhook configs a store keeps between claims (a new version is read again).
MAX_CACHED_CONFIGS = 100_000
# seconds: how far ahead a rate-limited webhook's sends are claimed and scheduled.
LIMIT_HORIZON = 1.0


TOKEN_PREFIX = "hh_"  # noqa: S105 (a prefix, not a secret)
SCOPES = ("read", "write", "admin")


def hash_token(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(name: str, scope: str, tenant_id: str | None = None) -> tuple[Row, str]:
    """A new API token's row (held to tenant `tenant_id`, if given), to be stored, and its
    plaintext: returned this once, only its hash is stored."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = {
        "id": new_id("tok"),
        "name": name,
        "scope": scope,
        "token_hash": hash_token(plaintext),
        "prefix": plaintext[:8],
        "created_at": time.time(),
        "tenant_id": tenant_id,
    }
    return row, plaintext


async def _referenced(
    conn: direct.Conn, table: Table, claimed: Sequence[ClaimedDelivery], column: str
) -> list[Row]:
    """The rows of `table` that `claimed` name in `column` (callbacks name no event or webhook)."""
    ids = list({value for delivery in claimed if (value := getattr(delivery, column))})
    if not ids:
        return []
    return await direct.execute(conn, queries.rows_by_id(table, conn.dialect.name), {"ids": ids})


def _all_succeeded(health: Health) -> bool:
    return health.recovered and not health.failures


def _outdated(config: WebhookConfig | None, version: int) -> bool:
    return config is None or config.version != version


class Store(Database):
    """Named queries over one database (`Database`: its connections and transactions)."""

    def __init__(self, engine: AsyncEngine, busy_timeout: float = SQLITE_BUSY_TIMEOUT) -> None:
        super().__init__(engine, busy_timeout)
        self._tokens = TokenCache()
        self._schemas = SchemaCache()
        self._webhook_configs: dict[str, WebhookConfig] = {}  # id → the latest version read

    # -- any table by id (the store's own token writes, db/users.py, tests) ------------------------

    async def insert(self, table: Table, values: Mapping[str, Any]) -> Row:
        """Insert one row, turning a unique-name clash into Conflict."""
        return await crud.create(self, table, values)

    async def get(self, table: Table, row_id: str) -> Row:
        """One row by id, or NotFound."""
        return await crud.get(self, table, row_id)

    async def page(
        self,
        table: Table,
        filters: Mapping[str, Any],
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Row], str | None]:
        """Rows matching equality `filters`, newest first, after `cursor`; and the next cursor."""
        return await crud.page(self, table, filters, cursor, limit)

    async def update(self, table: Table, row_id: str, values: Mapping[str, Any]) -> Row:
        """Change some columns of one row; bumps `version` where the table has one."""
        return await crud.change(self, table, row_id, values)

    # -- tokens -------------------------------------------------------------------------------

    async def create_token(
        self, name: str, scope: str, tenant_id: str | None = None
    ) -> tuple[Row, str]:
        """A new API token stored as `new_token` makes it, with no audit entry (tests and
        benchmarks; `hookhub.services.tokens` stores one with its entry); and its plaintext."""
        row, plaintext = new_token(name, scope, tenant_id)
        return await self.insert(tokens, row), plaintext

    async def touch_token(self, token_id: str, when: float) -> None:
        """Record that a token was used at `when` (never moving `last_used_at` back)."""
        statement = (
            update(tokens)
            .where(
                tokens.c.id == token_id,
                or_(tokens.c.last_used_at.is_(None), tokens.c.last_used_at < when),
            )
            .values(last_used_at=when)
        )
        async with self.write() as conn:
            await conn.execute(statement)

    async def token_by_plaintext(self, plaintext: str) -> Row | None:
        """The live (unrevoked) token row for a presented token, if any; a token found in the
        last few seconds is not looked up again (`db/token_cache.py`)."""
        token_hash = hash_token(plaintext)
        now = time.time()
        cached = self._tokens.get(token_hash, now)
        if cached is not None:
            return cached
        query = select(tokens).where(
            tokens.c.token_hash == token_hash, tokens.c.revoked_at.is_(None)
        )
        async with self.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        found = dict(row._mapping)
        self._tokens.put(token_hash, found, now)
        return found

    # -- intake ---------------------------------------------------------------------------------

    async def ingest(
        self, rows: Sequence[Row], route: Router, since: float | None = None
    ) -> dict[str, int]:
        """Store events and their deliveries in one transaction (`hookhub.db.ingest.steps`:
        what `route` sees and returns); returns new event id → deliveries created. `since`: as
        in `write`."""
        async with self.write_direct(since=since) as conn:
            created = await ingest.run_async(conn, ingest.steps(self.dialect, rows, route))
            if self.dialect == "sqlite" and any(created.values()):
                self.wake_others()
        return created

    async def add_deliveries(
        self, webhook_id: str, planned: Sequence[Target], due: bool = True
    ) -> int:
        """New pending deliveries of existing events to one webhook (replay): one per
        `(event key, ordering key)` in `planned`; not `due` while the webhook is disabled."""
        now = time.time()
        values = [ingest.pending(webhook_id, event, key, now, due) for event, key in planned]
        if values:
            async with self.write() as conn:
                await conn.execute(insert(deliveries), values)
                await self.announce(conn, notify.DELIVERIES)
        return len(values)

    async def enqueue_callback(self, spec: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
        """Queue a callback delivery (DESIGN O12) carrying its own target and payload."""
        async with self.write() as conn:
            return await self.add_callback(conn, spec, payload)

    # -- dispatch -----------------------------------------------------------------------------

    async def claim(self, limit: int, margin: float) -> Claim:
        """Lease up to `limit` due deliveries, respecting webhooks' concurrency and rate limits;
        with their events and webhooks, read in the same transaction.

        A rate-limited delivery carries `send_at`, the time it may start (within
        `LIMIT_HORIZON` seconds). A webhook whose stored limits cannot be applied (an older
        version or a hand edit wrote them) is skipped and named in `Claim.broken`, so it cannot
        stop the claim for the others; the caller disables it (`disable`).
        """
        lease_id = new_id("lse")
        now = time.time()
        params = {"now": now, "lease_id": lease_id, "margin": margin}
        claimed: list[ClaimedDelivery] = []
        broken: dict[str, str] = {}
        async with self.keyed() as conn:
            shares = await self._tenant_shares(conn, limit, now, params)
            limited = await self._limited_webhooks(conn, params, bool(shares))
            for webhook in limited:
                share = shares.get(webhook["tenant_id"]) if webhook["tenant_limited"] else None
                if webhook["tenant_limited"] and share is None:
                    continue  # its tenant's limits can't be applied now: held by another claim
                try:
                    sends = limits.plan_sends(
                        webhook["rate_limit"],
                        webhook["max_concurrency"],
                        webhook["busy"],
                        webhook["next_send_at"],
                        min(limit - len(claimed), share.left if share else limit),
                        now,
                        LIMIT_HORIZON,
                    )
                except Exception as exc:  # arithmetic on stored values only: no SQL has run
                    broken[webhook["id"]] = _unusable(exc)
                    continue
                claimed += await self._claim_limited(conn, webhook["id"], sends, params, share)
            for tenant_id, share in shares.items():
                if share.sends.interval is not None and share.taken:
                    next_send = {"t_id": tenant_id, "t_next": share.sends.next_free(share.taken)}
                    await direct.execute(conn, queries.schedule_tenant_sends(), next_send)
            if len(claimed) < limit:
                statement = queries.claim_deliveries(self.dialect)
                values = {**params, "limit": limit - len(claimed)}
                rows = await direct.execute(conn, statement, values)
                if lost := [row for row in rows if row["lost_lease"] is not None]:
                    await self._log_lost_sends(conn, lost)
                claimed += [_claimed(row, lease_id) for row in rows]
            found_events = await _referenced(conn, events, claimed, "event_key")
            found_webhooks = await self._configs(conn, claimed)
        return Claim(
            lease_id,
            claimed,
            {row["key"]: StoredEvent.from_row(row) for row in found_events},
            found_webhooks,
            broken,
        )

    async def _configs(
        self, conn: direct.Conn, claimed: Sequence[ClaimedDelivery]
    ) -> list[WebhookConfig]:
        """The configs of the webhooks `claimed` name. Whole rows are read only for those that
        changed (a new version) since this store read them: a claim of 200 deliveries to 200
        webhooks decoded 200 rows' JSON columns, a tenth of a delivery's CPU."""
        ids = list({delivery.webhook_id for delivery in claimed if delivery.webhook_id})
        if not ids:
            return []
        known = self._webhook_configs
        current = await direct.execute(conn, queries.webhook_versions(self.dialect), {"ids": ids})
        stale = [row["id"] for row in current if _outdated(known.get(row["id"]), row["version"])]
        if stale:
            if len(known) > MAX_CACHED_CONFIGS:
                known.clear()  # deleted webhooks' entries: cheaper to forget all than track
            statement = queries.rows_by_id(webhooks, self.dialect)
            for row in await direct.execute(conn, statement, {"ids": stale}):
                known[row["id"]] = WebhookConfig.from_row(row)
        return [known[row["id"]] for row in current if row["id"] in known]

    async def _log_lost_sends(self, conn: direct.Conn, lost: Sequence[Row]) -> None:
        """Log an attempt of unknown outcome for each delivery claimed again after its lease
        (`lost_lease`) expired unrecorded, and make it the delivery's last error."""
        notes = []
        for row in lost:
            lease = row["lost_lease"]
            started = id_time(lease)  # the lease's claim: its send started then or soon after
            why = "the worker stopped, or overran its lease, before recording it"
            note = unknown_outcome(started, lease, why)
            # Numbered as the claim counted it, before the send it is about to make.
            notes.append(_unknown_attempt(row["id"], row["attempts"], started, note))
        # Unchecked: the claim's UPDATE holds these deliveries (`queries.insert_attempts`).
        await direct.execute_batch(conn, queries.insert_attempts(self.dialect), notes)
        changes = [{"n_id": note["delivery_id"], "n_error": note["error"]} for note in notes]
        await direct.execute_many(conn, queries.note_lost_sends(), changes)

    async def _limited_webhooks(
        self, conn: direct.Conn, params: Mapping[str, Any], tenants_limited: bool
    ) -> list[Row]:
        """The enabled webhooks with due deliveries and limits of their own or of their
        tenant's (`tenants_limited`: some tenant has limits), each once."""
        found = await direct.execute(conn, queries.limited_webhooks(self.dialect, False), params)
        if tenants_limited:
            seen = {row["id"] for row in found}
            statement = queries.limited_webhooks(self.dialect, True)
            of_tenants = await direct.execute(conn, statement, params)
            found += [row for row in of_tenants if row["id"] not in seen]
        return found

    async def _tenant_shares(
        self, conn: direct.Conn, limit: int, now: float, params: Mapping[str, Any]
    ) -> dict[str, _Share]:
        """What this claim may take of each limited tenant's deliveries, across its webhooks (a
        tenant whose stored limits can't be applied gets nothing, and is logged)."""
        shares: dict[str, _Share] = {}
        for tenant in await direct.execute(conn, queries.limited_tenants(self.dialect), params):
            try:
                sends = limits.plan_sends(
                    tenant["rate_limit"],
                    tenant["max_concurrency"],
                    tenant["busy"],
                    tenant["next_send_at"],
                    limit,
                    now,
                    LIMIT_HORIZON,
                )
            except Exception as exc:  # arithmetic on stored values only
                log.error("tenant %s: %s; its deliveries wait", tenant["id"], _unusable(exc))
                sends = limits.Sends(0, now, None)
            shares[tenant["id"]] = _Share(tenant["id"], sends)
        return shares

    async def _claim_limited(
        self,
        conn: direct.Conn,
        webhook_id: str,
        sends: limits.Sends,
        params: Mapping[str, Any],
        share: _Share | None = None,
    ) -> list[ClaimedDelivery]:
        """Claim what `sends` allows of one limited webhook's due deliveries (and what its
        tenant's `share` allows: then each also waits for a send slot of the tenant's)."""
        if sends.allowance <= 0:
            return []
        statement = queries.claim_deliveries(self.dialect, one_webhook=True)
        values = {
            **params,
            "limit": sends.allowance,
            "for_webhook": webhook_id,
            # Only what may start within the horizon is claimed; the lease covers the wait.
            "margin": params["margin"] + LIMIT_HORIZON,
        }
        rows = await direct.execute(conn, statement, values)
        if lost := [row for row in rows if row["lost_lease"] is not None]:
            await self._log_lost_sends(conn, lost)
        claimed = [_claimed(row, params["lease_id"], limited=True) for row in rows]
        pace: limits.Pace = ()
        if sends.interval is not None:
            pace = (("webhook", webhook_id, sends.interval),)
        if share is not None and share.sends.interval is not None:
            pace += (("tenant", share.tenant_id, share.sends.interval),)
        if pace and claimed:
            taken = share.taken if share is not None else 0
            for index, delivery in enumerate(claimed):
                slot = sends.slot(index)
                if share is not None and share.sends.interval is not None:
                    slot = max(slot, share.sends.slot(taken + index))
                delivery.send_at = slot
                delivery.pace = pace
        if sends.interval is not None and claimed:
            # After the last slot taken: the tenant's slots may have pushed it past its own.
            last = claimed[-1].send_at or sends.slot(len(claimed) - 1)
            free = max(sends.next_free(len(claimed)), last + sends.interval)
            next_send = {"w_id": webhook_id, "w_next": free}
            await direct.execute(conn, queries.schedule_sends(), next_send)
        if share is not None:
            share.taken += len(claimed)
        return claimed

    async def release(
        self,
        held: Sequence[tuple[str, str]],
        sending: Mapping[str, float] = MappingProxyType({}),
    ) -> int:
        """Make leased deliveries (`(delivery id, lease id)` pairs) due again now, unfinished by
        this worker (it is stopping); one whose lease has since passed to another claim is left
        alone. Those in `sending` (delivery id → when its send started) were cut off mid-send:
        each gets an attempt of unknown outcome, counted. Returns how many were released."""
        now = time.time()
        statement = (
            update(deliveries)
            .where(
                deliveries.c.id == bindparam("r_id"),
                deliveries.c.lease_id == bindparam("r_lease"),
                deliveries.c.status == "delivering",
            )
            .values(status="pending", next_attempt_at=now, lease_id=None, updated_at=now)
        )
        unsent = [
            {"r_id": delivery_id, "r_lease": lease_id}
            for delivery_id, lease_id in held
            if delivery_id not in sending
        ]
        cut_off = statement.values(
            attempts=deliveries.c.attempts + 1,
            last_status_code=None,
            last_error=bindparam("r_note"),
        ).returning(deliveries.c.attempts)
        async with self.write() as conn:
            released = int((await conn.execute(statement, unsent)).rowcount) if unsent else 0
            for delivery_id, lease_id in held:
                started = sending.get(delivery_id)
                if started is None:
                    continue
                note = unknown_outcome(started, lease_id, "the worker stopped during the send")
                params = {"r_id": delivery_id, "r_lease": lease_id, "r_note": note}
                number = (await conn.execute(cut_off, params)).scalar()
                if number is None:
                    continue  # claimed by another worker meanwhile: its lease expired
                released += 1
                attempt = _unknown_attempt(delivery_id, number, started, note)
                attempt["duration_ms"] = round((now - started) * 1000, 3)
                # Unchecked: `cut_off` holds the delivery now (`queries.insert_attempts`).
                await conn.execute(insert(attempts), attempt)
            if released:
                await self.announce(conn, notify.DELIVERIES)
        return released

    async def finish(
        self,
        outcomes: Sequence[DeliveryOutcome],
        attempt_records: Sequence[AttemptRecord],
        health: Sequence[Health] = (),
        gone: Mapping[str, str] = MappingProxyType({}),
    ) -> list[DisabledWebhook]:
        """Write a batch of delivery outcomes, their attempt records and the webhooks' failure
        streaks, in one transaction; an outcome whose lease no longer holds its delivery is
        ignored (another claim owns it).

        Webhooks in `gone` (id → reason) and those whose streak crossed their threshold are
        disabled; the ones this call disabled are returned. The attempt of a delivery deleted
        since its claim (with its webhook or tenant) is dropped: it has nothing to belong to.
        """
        try:
            return await self._finish(outcomes, attempt_records, health, gone)
        except (IntegrityError, sqlite3.IntegrityError):
            # Only then looked for, off the hot path: a foreign key refused an attempt (SQLite;
            # PostgreSQL inserts none whose delivery is gone, `insert_attempts`).
            ids = list({attempt.delivery_id for attempt in attempt_records})
            async with self.read() as conn:
                found = await conn.execute(select(deliveries.c.id).where(deliveries.c.id.in_(ids)))
                kept = {row[0] for row in found}
            left = [attempt for attempt in attempt_records if attempt.delivery_id in kept]
            return await self._finish(outcomes, left, health, gone)

    async def _finish(
        self,
        outcomes: Sequence[DeliveryOutcome],
        attempt_records: Sequence[AttemptRecord],
        health: Sequence[Health],
        gone: Mapping[str, str],
    ) -> list[DisabledWebhook]:
        now = time.time()
        updates = [
            {
                "b_id": o.delivery_id,
                "b_lease": o.lease_id,
                "b_status": o.status,
                "b_next": o.next_attempt_at,
                "b_code": o.status_code,
                "b_error": o.error,
                "b_now": o.at,
            }
            for o in outcomes
        ]
        failing = [s.webhook_id for s in health if s.failures]
        if not gone and not failing:
            # The usual batch: nothing can be disabled, so it all runs on the driver path.
            async with self.keyed() as conn:
                await self._record(conn, updates, attempt_records, health)
            return []
        async with self.write() as conn:
            await self._record(conn, updates, attempt_records, health)
            reasons = dict(gone)
            reasons.update(await self._failing(conn, failing, now))
            return [
                disabled
                for webhook_id, reason in sorted(reasons.items())
                if (disabled := await self._disable(conn, webhook_id, reason, now))
            ]

    async def _record(
        self,
        conn: direct.Conn,
        updates: Sequence[Row],
        attempt_records: Sequence[AttemptRecord],
        health: Sequence[Health],
    ) -> None:
        """`finish`'s writes: the outcomes, their attempts and the webhooks' streaks."""
        changed = await direct.execute_batch(conn, queries.finish_delivery(self.dialect), updates)
        # PostgreSQL: the attempts of the deliveries just changed go in unchecked, the rest
        # (leases lost meanwhile: rare) only where their delivery exists (`insert_attempts`).
        # SQLite returns no ids: every attempt takes the one statement there is.
        held = {row["id"] for row in changed}
        rows = [_attempt_row(a) for a in attempt_records]
        unchecked = [row for row in rows if row["delivery_id"] in held]
        checked = [row for row in rows if row["delivery_id"] not in held]
        await direct.execute_batch(conn, queries.insert_attempts(self.dialect), unchecked)
        await direct.execute_batch(conn, queries.insert_attempts(self.dialect, True), checked)
        # In webhook id order (`health` is sorted), so concurrent workers lock webhook rows in
        # one order: each run of webhooks whose attempts all succeeded is one statement (most
        # batches: one for the whole batch, not one per webhook), the others one each.
        for clean, run in itertools.groupby(health, key=_all_succeeded):
            streaks = list(run)
            if clean:
                ids = [s.webhook_id for s in streaks]
                await direct.execute(conn, queries.reset_streaks(self.dialect), {"ids": ids})
                continue
            grown = [
                {
                    "s_id": s.webhook_id,
                    "s_recovered": s.recovered,
                    "s_failures": s.failures,
                    "s_first": s.first_failure_at,
                }
                for s in streaks
            ]
            await direct.execute_many(conn, queries.record_streak(), grown)

    async def _failing(
        self, conn: AsyncConnection, ids: Sequence[str], now: float
    ) -> dict[str, str]:
        if not ids:
            return {}
        query = select(
            webhooks.c.id, webhooks.c.consecutive_failures, webhooks.c.failing_since
        ).where(
            webhooks.c.id.in_(ids),
            webhooks.c.enabled.is_(True),
            webhooks.c.failure_threshold.is_not(None),
            webhooks.c.consecutive_failures >= webhooks.c.failure_threshold,
            webhooks.c.failing_since <= now - webhooks.c.failure_window,
        )
        return {
            row["id"]: f"{row['consecutive_failures']} consecutive failed attempts since "
            f"{_iso(row['failing_since'])}"
            for row in direct.rows_of(await conn.execute(query))
        }

    async def _disable(
        self, conn: AsyncConnection, webhook_id: str, reason: str, now: float
    ) -> DisabledWebhook | None:
        statement = (
            update(webhooks)
            .where(webhooks.c.id == webhook_id, webhooks.c.enabled.is_(True))
            .values(
                enabled=False,
                disabled_reason=reason,
                disabled_at=now,
                version=webhooks.c.version + 1,
                updated_at=now,
            )
            .returning(webhooks.c.id, webhooks.c.name, webhooks.c.url, webhooks.c.disabled_at)
        )
        row = (await conn.execute(statement)).first()
        if row is None:
            return None
        await conn.execute(changes.pause(webhook_id))
        return DisabledWebhook(row.id, row.name, row.url, row.disabled_at, reason)

    async def disable(self, reasons: Mapping[str, str]) -> list[DisabledWebhook]:
        """Disable webhooks (id → reason) as a failure streak does, their deliveries waiting;
        returns those this call disabled (not already disabled), with their `reason`."""
        now = time.time()
        async with self.write() as conn:
            return [
                disabled
                for webhook_id, reason in sorted(reasons.items())
                if (disabled := await self._disable(conn, webhook_id, reason, now))
            ]

    async def pause(self, webhook_id: str) -> None:
        """Take a (just disabled) webhook's pending deliveries out of the due range."""
        async with self.write() as conn:
            await conn.execute(changes.pause(webhook_id))

    async def resume(self, webhook_id: str) -> int:
        """Make a (just re-enabled) webhook's waiting deliveries due now; returns how many."""
        async with self.write() as conn:
            return int((await conn.execute(changes.resume(webhook_id))).rowcount)

    async def commit(self, writes: Sequence[changes.Write]) -> int:
        """Carry out `writes` (`hookhub.db.changes`) in order, in one transaction; returns how
        many deliveries they resumed, announced to other processes' workers. A unique-name
        clash is a Conflict, and nothing is written."""
        try:
            async with self.write() as conn:
                resumed = await changes.carry_out(conn, writes)
                if resumed:
                    await self.announce(conn, notify.DELIVERIES)
        except IntegrityError as exc:
            rows = (changes.Insert, changes.Change, changes.Delete)
            tables = [write.table for write in writes if isinstance(write, rows)]
            raise crud.conflict(tables[0] if len(set(tables)) == 1 else None, exc) from None
        finally:
            if any(getattr(write, "kind", None) == "event_type" for write in writes):
                self._schemas.forget()
            for write in writes:
                if isinstance(write, changes.Change) and write.kind == "token":
                    self._tokens.forget(write.row_id)  # a revocation holds at once
        return resumed

    # -- operator actions ---------------------------------------------------------------------

    async def retry_delivery(self, delivery_id: str) -> Row:
        """Make one delivery due now (one more try, or more if its policy has tries left);
        returns it as shown (`DELIVERY_ROWS`). Conflict while a worker holds it."""
        now = time.time()
        statement = (
            update(deliveries)
            .where(
                deliveries.c.id == delivery_id,
                or_(deliveries.c.status != "delivering", deliveries.c.next_attempt_at <= now),
            )
            # Clearing the lease makes a late outcome from an expired claim harmless.
            .values(status="pending", next_attempt_at=now, lease_id=None, updated_at=now)
        )
        async with self.write() as conn:
            changed = (await conn.execute(statement)).rowcount
            if changed:
                await self.announce(conn, notify.DELIVERIES)
            # Read in the same transaction: once it commits, a woken worker may claim it at once.
            query = DELIVERY_ROWS.where(deliveries.c.id == delivery_id)
            found = direct.rows_of(await conn.execute(query))
        if not found:
            raise crud.missing(deliveries, delivery_id)
        if not changed:
            raise Conflict(f"delivery {delivery_id!r} is being sent right now; retry it later")
        return found[0]

    async def failed_count(self, webhook_id: str) -> int:
        """How many deliveries of a webhook are failed: what a retry of them all would re-send."""
        query = select(func.count()).where(
            deliveries.c.webhook_id == webhook_id, deliveries.c.status == "failed"
        )
        async with self.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def retry_failed(self, webhook_id: str, since: float | None, due: bool = True) -> int:
        """Make every failed delivery of a webhook (finished at or after `since`) pending, due
        now, or once the webhook is re-enabled when not `due`."""
        now = time.time()
        statement = (
            update(deliveries)
            .where(deliveries.c.webhook_id == webhook_id, deliveries.c.status == "failed")
            .values(status="pending", next_attempt_at=now if due else None, updated_at=now)
        )
        if since is not None:
            statement = statement.where(deliveries.c.updated_at >= since)
        async with self.write(offload=True) as conn:
            changed = int((await conn.execute(statement)).rowcount)
            if changed:
                await self.announce(conn, notify.DELIVERIES)
            return changed

    async def find_webhook(self, ref: str, tenant_id: str | None = None) -> Row:
        """A webhook by id or by name (the CLI takes either), of tenant `tenant_id` if given,
        or NotFound. A name several tenants use finds the webhook of no tenant first."""
        query = (
            select(webhooks)
            .where(or_(webhooks.c.id == ref, webhooks.c.name == ref))
            .order_by((webhooks.c.id != ref), webhooks.c.tenant_id.is_not(None))
        )
        if tenant_id is not None:
            query = query.where(webhooks.c.tenant_id == tenant_id)
        async with self.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no webhook with id or name {ref!r}")
        return dict(row._mapping)

    async def rules_of(self, webhook_id: str) -> list[Row]:
        """The enabled rules that deliver to a webhook."""
        query = select(rules).where(rules.c.webhook_id == webhook_id, rules.c.enabled.is_(True))
        async with self.read() as conn:
            return direct.rows_of(await conn.execute(query))

    async def events_between(
        self, since: float, until: float, after: Row | None, limit: int, tenant_id: str | None
    ) -> list[Row]:
        """Events of tenant `tenant_id` (None: of no tenant) received in [since, until), oldest
        first, after the event `after`."""
        query = (
            select(events)
            .where(
                events.c.received_at >= since,
                events.c.received_at < until,
                events.c.tenant_id.is_(None)
                if tenant_id is None
                else events.c.tenant_id == tenant_id,
            )
            .order_by(events.c.received_at, events.c.key)
            .limit(limit)
        )
        if after is not None:
            query = query.where(
                or_(
                    events.c.received_at > after["received_at"],
                    (events.c.received_at == after["received_at"]) & (events.c.key > after["key"]),
                )
            )
        async with self.read() as conn:
            return direct.rows_of(await conn.execute(query))

    async def recent_event_kinds(self, limit: int) -> tuple[set[str], set[str]]:
        """The object types and event names among the newest `limit` events (rule warnings)."""
        newest = (
            select(events.c.object_type, events.c.event)
            .order_by(events.c.received_at.desc())
            .limit(limit)
            .subquery()
        )
        query = select(newest.c.object_type, newest.c.event).distinct()
        async with self.read() as conn:
            found = (await conn.execute(query)).all()
        return {row[0] for row in found}, {row[1] for row in found}

    # -- retention ------------------------------------------------------------------------------

    async def purge(self, cutoff: float, batch: int) -> int:
        """Delete up to `batch` each of attempts started, finished deliveries last changed,
        delivery-less events received, sources' refused messages recorded, and portal links
        expired before `cutoff`. Returns the rows deleted."""
        old_attempts = select(attempts.c.id).where(attempts.c.started_at < cutoff)
        finished = select(deliveries.c.id).where(
            deliveries.c.updated_at < cutoff, queries.IS_FINISHED
        )
        orphans = select(events.c.key).where(
            events.c.received_at < cutoff,
            ~select(deliveries.c.id).where(deliveries.c.event_id == events.c.key).exists(),
        )
        refused = select(source_failures.c.id).where(source_failures.c.created_at < cutoff)
        expired = select(portal_links.c.id).where(portal_links.c.expires_at < cutoff)
        deleted = 0
        for table, ids in (
            (attempts, old_attempts),
            (deliveries, finished),
            (events, orphans),
            (source_failures, refused),
            (portal_links, expired),
        ):
            # One short transaction per batch: the dispatcher's writes interleave.
            key = crud.key(table)  # an event's key, every other row's id
            statement = delete(table).where(key.in_(ids.limit(batch).scalar_subquery()))
            if table is attempts:
                # PostgreSQL: ids are looked up in the expired partitions only, not in each.
                statement = statement.where(attempts.c.started_at < cutoff)
            async with self.write(offload=True) as conn:
                deleted += (await conn.execute(statement)).rowcount
        return deleted

    async def attempts_of(self, delivery_id: str) -> list[Row]:
        """Every attempt of one delivery, oldest first."""
        query = (
            select(attempts)
            .where(attempts.c.delivery_id == delivery_id)
            .order_by(attempts.c.number, attempts.c.started_at)
        )
        async with self.read() as conn:
            return direct.rows_of(await conn.execute(query))

    # -- workflows and runs ---------------------------------------------------------------------

    @property
    def workflows(self) -> WorkflowStore:
        """Workflows as configured: create, read, change, delete (see `hookhub.db.workflows`)."""
        return WorkflowStore(self)

    @property
    def webhooks(self) -> WebhookStore:
        """Webhooks as configured: create, read, change, delete (see `hookhub.db.webhooks`)."""
        return WebhookStore(self)

    @property
    def rules(self) -> RuleStore:
        """Rules: create, read, change, delete (see `hookhub.db.rules`)."""
        return RuleStore(self)

    @property
    def event_types(self) -> EventTypeStore:
        """The event-type catalog: create, read, change, delete, and the compiled schemas
        intake checks events with (see `hookhub.db.event_types`)."""
        return EventTypeStore(self, self._schemas)

    @property
    def audit(self) -> AuditStore:
        """The audit log, read (see `hookhub.db.audit`); entries are `changes.Record` writes."""
        return AuditStore(self)

    @property
    def tenants(self) -> TenantStore:
        """Tenants: create, read, change, delete (see `hookhub.db.tenants`)."""
        return TenantStore(self)

    @property
    def tokens(self) -> TokenStore:
        """API tokens, read (see `hookhub.db.tokens`)."""
        return TokenStore(self)

    @property
    def portal_links(self) -> PortalLinkStore:
        """Consumer portal links (see `hookhub.db.portal_links`)."""
        return PortalLinkStore(self)

    @property
    def runs(self) -> RunStore:
        """Workflow lookups, the run queue and dedupe keys (see `hookhub.db.runs`)."""
        return RunStore(self)

    @property
    def sources(self) -> SourceStore:
        """Enabled sources and the messages they refused (see `hookhub.db.sources`)."""
        return SourceStore(self)

    @property
    def partitions(self) -> PartitionStore:
        """PostgreSQL: the daily partitions of attempts (see `hookhub.db.partitions`)."""
        return PartitionStore(self.engine)

    @property
    def history(self) -> HistoryStore:
        """Events and deliveries, filtered and paged (see `hookhub.db.history`)."""
        return HistoryStore(self)

    @property
    def activity(self) -> ActivityStore:
        """Recent attempts and failures, grouped for the dashboard and health blocks (see
        `hookhub.db.activity`)."""
        return ActivityStore(self)

    # -- metrics and readiness ------------------------------------------------------------------

    async def queue_depth(self, now: float) -> dict[str, int]:
        """Active deliveries by state: `pending` (due by `now`), `scheduled` (pending, due later:
        retries), `paused` (pending, their webhook disabled) and `delivering`. Reads only the
        partial index of active deliveries."""
        pending = deliveries.c.status == "pending"
        when = deliveries.c.next_attempt_at
        counts = {
            "pending": pending & (when <= now),
            "scheduled": pending & (when > now),
            "paused": pending & when.is_(None),
            "delivering": deliveries.c.status == "delivering",
        }
        query = select(
            *(func.coalesce(func.sum(case((cond, 1), else_=0)), 0) for cond in counts.values())
        ).where(queries.IS_ACTIVE)
        async with self.read(offload=True) as conn:
            row = (await conn.execute(query)).one()
        return {state: int(count) for state, count in zip(counts, row, strict=True)}

    async def oldest_due(self, now: float) -> float | None:
        """When the longest-waiting pending delivery due by `now` fell due, if there is one."""
        query = (
            select(deliveries.c.next_attempt_at)
            .where(
                queries.IS_ACTIVE,
                deliveries.c.status == "pending",
                deliveries.c.next_attempt_at <= now,
            )
            .order_by(deliveries.c.next_attempt_at)
            .limit(1)
        )
        async with self.read() as conn:
            oldest: float | None = (await conn.execute(query)).scalar()
        return oldest

    async def disabled_webhooks(self) -> int:
        """How many webhooks are disabled."""
        query = select(func.count()).select_from(webhooks).where(webhooks.c.enabled.is_(False))
        async with self.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def schema_revisions(self) -> set[str]:
        """The migration revisions the database is stamped with (Alembic's own table)."""
        query = text("SELECT version_num FROM alembic_version")
        async with self.read() as conn:
            return {str(row[0]) for row in await conn.execute(query)}


@dataclass
class _Share:
    """One claim's use of a limited tenant's allowance, across its webhooks."""

    tenant_id: str
    sends: limits.Sends  # what the tenant's limits allow this claim
    taken: int = 0  # deliveries of the tenant's claimed so far (slots of its rate taken)

    @property
    def left(self) -> int:
        """Deliveries of the tenant's this claim may still take."""
        return max(self.sends.allowance - self.taken, 0)


def _claimed(row: Row, lease_id: str, limited: bool = False) -> ClaimedDelivery:
    return ClaimedDelivery(
        row["id"],
        lease_id,
        row["event_id"],
        row["webhook_id"],
        row["attempts"],
        row["ordering_key"],
        row["callback"],
        row["payload"],
        limited,
    )


def _attempt_row(attempt: AttemptRecord) -> Row:
    return {
        "id": attempt.id,
        "delivery_id": attempt.delivery_id,
        "number": attempt.number,
        "started_at": attempt.started_at,
        "duration_ms": attempt.duration_ms,
        "request": attempt.request,
        "response": attempt.response,
        "error": attempt.error,
        "succeeded": attempt.succeeded,
    }


def _unusable(exc: Exception) -> str:
    """Why a webhook's stored limits were refused, as its `disabled_reason` says it."""
    what = str(exc) if isinstance(exc, limits.BrokenLimit) else f"{type(exc).__name__}: {exc}"
    return f"its stored limits cannot be applied ({what}); correct them and enable it again"


def unknown_outcome(started: float, lease_id: str, why: str) -> str:
    """The error of an attempt whose outcome was never recorded: the receiver may have it."""
    return (
        f"outcome of the send started at {_iso(started, 'milliseconds')} by lease {lease_id} "
        f"is unknown ({why}); the receiver may have received it"
    )


def _unknown_attempt(delivery_id: str, number: int, started: float, note: str) -> Row:
    return {
        "id": new_id("att"),
        "delivery_id": delivery_id,
        "number": number,
        "started_at": started,
        "duration_ms": 0.0,
        "request": {},
        "response": None,
        "error": note,
        "succeeded": False,
    }


def _iso(epoch: float, timespec: str = "seconds") -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
