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
