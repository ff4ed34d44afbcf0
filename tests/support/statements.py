"""The statements a store's engine runs, as tests that check SQL or plans read them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import event

from hookhub.db.store import Store


class Executed(NamedTuple):
    """One statement sent to the driver."""

    sql: str
    params: Any
    many: bool  # run once per parameter set (executemany)


@contextmanager
def statements_of(store: Store) -> Iterator[list[Executed]]:
    """Every statement `store` runs inside the block, in order."""
    seen: list[Executed] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        seen.append(Executed(sql, params, many))

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)


async def plan_of(store: Store, executed: Executed) -> str:
    """The plan `store`'s database gives a statement it ran, as text. On PostgreSQL sequential
    scans are discouraged, so that a usable index shows however small the table is."""
    async with store.write() as conn:
        if store.dialect == "postgresql":
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            explain = "EXPLAIN"
        else:
            explain = "EXPLAIN QUERY PLAN"
        plan = (await conn.exec_driver_sql(f"{explain} {executed.sql}", executed.params)).all()
    return " ".join(str(row) for row in plan)
