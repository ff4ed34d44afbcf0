"""Workflows and runs: trigger lookups, the durable run queue and trigger dedupe keys.

The SQL that differs between SQLite and PostgreSQL (upserts, `FOR UPDATE SKIP LOCKED`) is
named here at module level, like `hookhub.db.queries`; `RunStore` executes it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Insert,
    Select,
    Update,
    bindparam,
    delete,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from hookhub.db import crud, direct, notify, queries
from hookhub.db.database import Database
from hookhub.db.records import Row
from hookhub.db.tables import run_dedupe, runs, workflows
from hookhub.ids import new_id

# Spelled as the partial index ix_runs_due spells it (SQLite matches partial indexes literally).
IS_ACTIVE = text("runs.status IN ('queued', 'running')")
# Likewise for the partial index of finished runs, ix_runs_finished.
IS_FINISHED = text("runs.status NOT IN ('queued', 'running')")
ACTIVE = ("queued", "running")
# The columns a runner needs to execute a claimed run.
CLAIMED = (
    runs.c.id,
    runs.c.workflow_id,
    runs.c.mode,
    runs.c.request,
    runs.c.callback,
    runs.c.attempts,
    runs.c.resume,  # a run parked by a delay node: where it resumes
    runs.c.nodes,  # ... and its node log so far
)


def due_runs(dialect: str) -> Select[tuple[str]]:
    """Ids of runs due by :now, oldest due first, at most :limit.

    Queued runs are due at once; running ones when their lease expires (their runner died).
    On PostgreSQL rows another runner is claiming are skipped, not waited on.
    """
    if dialect == "sqlite":
        # Without statistics SQLite reads every active run through the status index and sorts
        # them: 2.4 ms per claim with 10,000 queued, on the loop that answers the triggers.
        # Named, the due index gives them in order (0.4 ms). SQLAlchemy can't write INDEXED BY.
        return (
            select(literal_column("id"))
            .select_from(text("runs INDEXED BY ix_runs_due"))
            .where(text("status IN ('queued', 'running') AND next_attempt_at <= :now"))
            .order_by(literal_column("next_attempt_at"))
            .limit(bindparam("limit"))
        )
    return (
        select(runs.c.id)
        .where(IS_ACTIVE, runs.c.next_attempt_at <= bindparam("now"))
        .order_by(runs.c.next_attempt_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )


def listed(dialect: str, workflow_id: str | None, status: str | None) -> list[crud.Condition]:
    """The conditions a list of runs in `status` adds to its filters, so that it reads only the
    runs of that status's partial index (ix_runs_due or ix_runs_finished), however many
    finished runs are kept."""
    if status is None:
        return []
    if status not in ACTIVE:
        return [IS_FINISHED]
    if dialect == "sqlite" and workflow_id is None:
        # Without statistics SQLite pages by the primary key backward (no sort), reading every
        # newer finished run to reach a few old queued ones; the runs' ids are chosen through
        # the due index instead. (A workflow's page has its (workflow_id, status) index.)
        ids: Select[Any] = (
            select(literal_column("id"))
            .select_from(text("runs INDEXED BY ix_runs_due"))
            .where(text("status IN ('queued', 'running')"), literal_column("status") == status)
        )
        return [runs.c.id.in_(ids.scalar_subquery())]
    return [IS_ACTIVE]


@functools.cache
def claim_runs(dialect: str) -> Update:
    """Mark due runs as running under lease :lease_id until :now + :lease seconds."""
    return (
        update(runs)
        .where(queries.chosen(dialect, runs.c.id, due_runs(dialect)))
        .values(
            status="running",
            lease_id=bindparam("lease_id"),
            next_attempt_at=bindparam("now") + bindparam("lease"),
            attempts=runs.c.attempts + 1,
            started_at=bindparam("now"),
        )
        .returning(*CLAIMED)
    )


@functools.cache
def finish_run(returning: bool = False) -> Update:
    """Record a run's outcome, only if the claim :b_lease still owns it; `returning`: the
    statement yields the run's id when it did."""
    statement = (
        update(runs)
        .where(runs.c.id == bindparam("b_id"), runs.c.lease_id == bindparam("b_lease"))
        .values(
            status=bindparam("b_status"),
            vars=bindparam("b_vars", type_=runs.c.vars.type),
            nodes=bindparam("b_nodes", type_=runs.c.nodes.type),
            result=bindparam("b_result", type_=runs.c.result.type),
            error=bindparam("b_error"),
            finished_at=bindparam("b_now"),
            lease_id=None,
            next_attempt_at=None,
            resume=None,
        )
    )
    return statement.returning(runs.c.id) if returning else statement


def park_run() -> Update:
    """Park a run leased by :p_lease (a delay node): queued again, due at :p_until, with its
    node log, variables and where it resumes; its claims counted afresh from there."""
    return (
        update(runs)
        .where(runs.c.id == bindparam("p_id"), runs.c.lease_id == bindparam("p_lease"))
        .values(
            status="queued",
            lease_id=None,
            next_attempt_at=bindparam("p_until"),
            attempts=0,
            vars=bindparam("p_vars", type_=runs.c.vars.type),
            nodes=bindparam("p_nodes", type_=runs.c.nodes.type),
            resume=bindparam("p_resume", type_=runs.c.resume.type),
        )
    )


def release_run() -> Update:
    """Make a run leased by :r_lease queued again from :now, its claim not counted (its runner
    is stopping, the run did not fail)."""
    return (
        update(runs)
        .where(
            runs.c.id == bindparam("r_id"),
            runs.c.lease_id == bindparam("r_lease"),
            runs.c.status == "running",
        )
        .values(
            status="queued",
            lease_id=None,
            next_attempt_at=bindparam("now"),
            attempts=runs.c.attempts - 1,
            started_at=None,
        )
    )


def _parameters(outcomes: Sequence[Row]) -> list[Row]:
    """The `b_*` parameters of `finish_run` in each outcome."""
    return [{k: v for k, v in outcome.items() if k.startswith("b_")} for outcome in outcomes]


@functools.cache
def workflow_by_id() -> Select[Any]:
    """The full row of workflow :id."""
    return select(workflows).where(workflows.c.id == bindparam("id"))


@functools.cache
def insert_runs() -> Insert:
    """Insert runs, one per parameter set (built once: every trigger batch runs it)."""
    return insert(runs)


@functools.cache
def remember_key(dialect: str) -> Insert:
    """Store a dedupe key (:workflow_id, :key) for :run_id until :expires_at, unless it is
    already stored and unexpired at :now; RETURNING yields a row only when it was stored."""
    insert_ = (
        postgresql.insert(run_dedupe) if dialect == "postgresql" else sqlite.insert(run_dedupe)
    )
    return insert_.on_conflict_do_update(
        index_elements=["workflow_id", "key"],
        set_={"run_id": insert_.excluded.run_id, "expires_at": insert_.excluded.expires_at},
        where=run_dedupe.c.expires_at <= bindparam("now"),
    ).returning(run_dedupe.c.run_id)


@functools.cache
def key_holder() -> Select[tuple[str]]:
    """The run holding the dedupe key (:workflow_id, :key)."""
    return select(run_dedupe.c.run_id).where(
        run_dedupe.c.workflow_id == bindparam("workflow_id"), run_dedupe.c.key == bindparam("key")
    )


@dataclass(slots=True)  # not frozen: one is made per trigger request, and that costs ~1 µs more
class NewRun:
    """A run to store; with `dedupe_key`, only if that key was not seen within `window` s."""

    row: Row
    dedupe_key: str | None = None
    window: float = 0.0


class RunStore:
    """Reads and writes of workflows and runs, over the store's connections."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def get(self, run_id: str) -> Row:
        """One run, or NotFound."""
        return await crud.get(self.store, runs, run_id)

    async def page(
        self, workflow_id: str | None, status: str | None, cursor: str | None, limit: int
    ) -> tuple[list[Row], str | None]:
        """A page of runs (of one workflow, in one status, when given), newest first, after
        `cursor`; and the next page's cursor."""
        of = {"workflow_id": workflow_id, "status": status}
        where = listed(self.store.dialect, workflow_id, status)
        return await crud.page(self.store, runs, of, cursor, limit, where=where)

    async def count(self, workflow_id: str | None, status: str | None, cap: int) -> int:
        """How many runs match, counting no further than `cap`."""
        of = {"workflow_id": workflow_id, "status": status}
        where = listed(self.store.dialect, workflow_id, status)
        return await crud.count(self.store, runs, of, cap, where=where)

    async def workflow_by_key(self, key: str) -> Row | None:
        """The workflow whose trigger URL has `key`, if any."""
        async with self.store.read() as conn:
            row = (await conn.execute(select(workflows).where(workflows.c.key == key))).first()
        return dict(row._mapping) if row else None

    async def enqueue(
        self, batch: Sequence[NewRun], now: float, since: float | None = None
    ) -> list[str | None]:
        """Store runs in one transaction (a write asked for at `since`, `Store.write`). For each:
        None when stored, or the id of the earlier run holding its dedupe key (then it is not
        stored)."""
        outcomes: list[str | None] = []
        stored: list[Row] = []
        async with self.store.write_direct(since) as conn:
            for item in batch:
                if item.dedupe_key is not None:
                    params = {
                        "workflow_id": item.row["workflow_id"],
                        "key": item.dedupe_key,
                        "run_id": item.row["id"],
                        "expires_at": now + item.window,
                        "now": now,
                    }
                    if not await direct.execute(conn, remember_key(self.store.dialect), params):
                        (holder,) = await direct.execute(conn, key_holder(), params)
                        outcomes.append(holder["run_id"])
                        continue
                outcomes.append(None)
                stored.append(item.row)
            if stored:
                await direct.execute_many(conn, insert_runs(), stored)
                await self.store.announce(conn, notify.RUNS)
        return outcomes

    async def claim(
        self, limit: int, lease: float, now: float
    ) -> tuple[str, list[Row], dict[str, Row]]:
        """Lease up to `limit` due runs for `lease` seconds; returns the lease id, the runs and
        their workflows (full rows by id), read in the same transaction."""
        lease_id = new_id("lse")
        params = {"now": now, "limit": limit, "lease_id": lease_id, "lease": lease}
        found: dict[str, Row] = {}
        async with self.store.keyed() as conn:
            claimed = await direct.execute(conn, claim_runs(self.store.dialect), params)
            # Nearly always one workflow per claim: a statement per id, compiled once.
            for workflow_id in {run["workflow_id"] for run in claimed}:
                for row in await direct.execute(conn, workflow_by_id(), {"id": workflow_id}):
                    found[row["id"]] = row
        return lease_id, claimed, found

    async def finish(self, outcomes: Sequence[Row], since: float | None = None) -> None:
        """Write a batch of run outcomes (`b_*` parameters of `finish_run`) in one transaction,
        with the callback deliveries of those that carry `callback` and `payload`: queued only
        if the outcome is recorded (its lease still held), and in the same commit, so a crash
        can't record a run and lose its callback. `since`: as in `Store.write`."""
        plain = [outcome for outcome in outcomes if not outcome.get("callback")]
        async with self.store.write_direct(since=since) as conn:
            await direct.execute_many(conn, finish_run(), _parameters(plain))
            for outcome in outcomes:
                if outcome.get("callback"):
                    (params,) = _parameters([outcome])
                    if await direct.execute(conn, finish_run(returning=True), params):
                        await self.store.add_callback(conn, outcome["callback"], outcome["payload"])

    async def park(self, parked: Row) -> bool:
        """Park a run (`p_*` parameters of `park_run`) until its due time; False when its
        lease was lost meanwhile (another runner owns it now)."""
        # No wake-up: it is due later; runners poll (HOOKHUB_POLL_INTERVAL) for due runs.
        async with self.store.write() as conn:
            return bool((await conn.execute(park_run(), parked)).rowcount)

    async def release(self, held: Sequence[tuple[str, str]], now: float) -> int:
        """Queue leased runs (`(run id, lease id)` pairs) again at `now`, for another runner;
        returns how many were released."""
        params = [{"r_id": run_id, "r_lease": lease_id, "now": now} for run_id, lease_id in held]
        async with self.store.write() as conn:
            released = int((await conn.execute(release_run(), params)).rowcount)
            if released:
                await self.store.announce(conn, notify.RUNS)
        return released

    async def purge_dedupe(self, now: float) -> int:
        """Forget dedupe keys that expired before `now`; returns how many."""
        async with self.store.write() as conn:
            result = await conn.execute(delete(run_dedupe).where(run_dedupe.c.expires_at < now))
        return result.rowcount
