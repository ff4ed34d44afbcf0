"""The dispatcher's statements, compiled once and run straight on the SQLite driver.

On SQLite the statements run inline on the event loop (hookhub.db.sqlite), so what is left of a
statement's cost is SQLAlchemy's own per-execution work: building an execution context,
merging and processing every parameter set, the greenlet hop and the result wrapper. That was
~14 % of a delivery's CPU, more than SQLite's work for the claim and the outcome together.
Here a statement is compiled once per dialect into its SQL, the order of its parameters and
the type processors of its parameters and result columns, and then executed on the driver
inside the caller's transaction: a SQLAlchemy connection's, or a `Driver` transaction of
`Store.write_direct`, begun and committed on the driver too (~90 µs less per transaction). On
PostgreSQL the same calls go through SQLAlchemy: there a round trip to the server dominates.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Delete, Insert, Select, String, TextClause, Update
from sqlalchemy.engine import Dialect, Result
from sqlalchemy.ext.asyncio import AsyncConnection

from hookhub.db import sqlite

Row = dict[str, Any]
Statement = Select[Any] | Insert | Update | Delete | TextClause
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Driver:
    """A transaction straight on the SQLite driver (`Store.write_direct`), with the dialect its
    statements are compiled for."""

    connection: sqlite.Connection
    dialect: Dialect


# Where direct statements run: a SQLAlchemy connection's transaction, or a driver's.
Conn = AsyncConnection | Driver


@dataclass(frozen=True)
class Compiled:
    """A statement as the driver runs it."""

    sql: str
    # Per `?`, in order: (name, None, bind processor) for a value the caller gives, or
    # (None, processed value, None) for one the statement itself holds (`.values(x=1)`).
    params: tuple[tuple[str | None, Any, Processor], ...]
    keys: tuple[str, ...]  # result column names
    results: tuple[Processor, ...]  # their result processors
    # When every parameter is given by the caller (most statements): one C call reads them
    # all in order, and only those with a bind processor are run through it (a run's insert:
    # 18 values, 6 processed), each with what it makes of None, processed once here (5 of a
    # queued run's 6 are None).
    _fetch: Callable[[Mapping[str, Any]], Any] | None = field(
        init=False, default=None, compare=False
    )
    _processed: tuple[tuple[int, Callable[[Any], Any], Any], ...] = field(
        init=False, default=(), compare=False
    )

    def __post_init__(self) -> None:
        names = [name for name, _, _ in self.params]
        if len(names) > 1 and None not in names:
            object.__setattr__(self, "_fetch", operator.itemgetter(*names))
            processed = tuple(
                # A bind processor is given None for every NULL bound: it takes None.
                (at, process, process(None))
                for at, (_, _, process) in enumerate(self.params)
                if process
            )
            object.__setattr__(self, "_processed", processed)

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional parameters; KeyError if `values` lacks one the statement needs."""
        if self._fetch is not None:
            found = list(self._fetch(values))
            for at, process, null in self._processed:
                value = found[at]
                found[at] = null if value is None else process(value)
            return found
        # A list comprehension: tuple() over a generator cost twice as much per row.
        return [
            fixed if name is None else values[name] if process is None else process(values[name])
            for name, fixed, process in self.params
        ]

    def rows(self, found: list[tuple[Any, ...]]) -> list[Row]:
        """Result tuples as dicts, with the column types' processing (JSON, booleans)."""
        keys, results = self.keys, self.results
        if not any(results):
            return [dict(zip(keys, row, strict=True)) for row in found]
        return [
            {
                key: value if process is None else process(value)
                for key, value, process in zip(keys, row, results, strict=True)
            }
            for row in found
        ]


def rows_of(result: Result[Any]) -> list[Row]:
    """A SQLAlchemy result's rows as dicts."""
    # zip with the keys read once: Row._mapping per row cost ~20 % of a claim.
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


_compiled: dict[tuple[int, str], tuple[Statement, Compiled]] = {}


def compile_for(statement: Statement, dialect: Dialect) -> Compiled:
    """`statement` compiled for `dialect` (qmark parameters), once per process."""
    key = (id(statement), dialect.name)
    cached = _compiled.get(key)
    if cached is not None and cached[0] is statement:
        return cached[1]
    compiled = statement.compile(dialect=dialect)
    params: list[tuple[str | None, Any, Processor]] = []
    for name in compiled.positiontup or []:
        bind = compiled.binds[name]
        process: Processor = bind.type.bind_processor(dialect)
        if process is not None and isinstance(bind.type, JSON):
            process = _json(process, dialect)
        if bind.required:
            params.append((name, None, process))
        else:
            params.append((None, bind.value if process is None else process(bind.value), None))
    columns = [] if isinstance(statement, TextClause) else list(statement.exported_columns)
    result = Compiled(
        sql=compiled.string,
        params=tuple(params),
        keys=tuple(column.name for column in columns),
        results=tuple(column.type.result_processor(dialect, None) for column in columns),
    )
    # The statement is kept with its entry: its id stays unique while the entry exists.
    _compiled[key] = (statement, result)
    return result


def _json(process: Callable[[Any], Any], dialect: Dialect) -> Callable[[Any], Any]:
    """SQLAlchemy's bind processor `process` of a JSON column, cheaper for the values hookhub
    binds: None (JSON null) serialized once (most JSON values of a run or attempt row are
    None), and a dict or list handed straight to the engine's serializer, which is all that
    `process` does with one after checking it for SQLAlchemy's NULL markers (a queued run's
    parameters: 20,500 → 17,500 instructions). Anything else goes through `process`."""
    null = process(None)
    serialize: Processor = getattr(dialect, "_json_serializer", None)
    if serialize is None or String().bind_processor(dialect) is not None:
        # No serializer of the engine's own, or text that needs processing after it.
        serialize = process

    def processed(value: Any) -> Any:
        if value is None:
            return null
        kind = type(value)
        return serialize(value) if kind is dict or kind is list else process(value)

    return processed


async def execute(
    conn: Conn, statement: Statement, values: Mapping[str, Any] | None = None
) -> list[Row]:
    """Run `statement` with `values` in `conn`'s transaction; its result rows as dicts."""
    driver = driver_of(conn)
    if driver is None:
        assert isinstance(conn, AsyncConnection)
        result = await conn.execute(statement, values or {})
        return rows_of(result) if result.returns_rows else []
    compiled = compile_for(statement, conn.dialect)
    found = await driver.fetch(compiled.sql, compiled.args(values or {}))
    return compiled.rows(found)


async def execute_many(
    conn: Conn, statement: Statement, values: Sequence[Mapping[str, Any]]
) -> list[Row]:
    """Run `statement` once per parameter set in `values`, in order, in `conn`'s transaction;
    the rows its RETURNING clause gives, if it has one."""
    if not values:
        return []
    driver = driver_of(conn)
    if driver is None:
        assert isinstance(conn, AsyncConnection)
        result = await conn.execute(statement, list(values))
        return rows_of(result) if result.returns_rows else []
    compiled = compile_for(statement, conn.dialect)
    if not compiled.keys:
        await driver.execute_many(compiled.sql, [compiled.args(v) for v in values])
        return []
    # sqlite3's executemany keeps no rows: one statement per set, each inline and cheap.
    found: list[tuple[Any, ...]] = []
    for one in values:
        found.extend(await driver.fetch(compiled.sql, compiled.args(one)))
    return compiled.rows(found)


async def execute_batch(
    conn: Conn, statement: Statement, rows: Sequence[Mapping[str, Any]]
) -> list[Row]:
    """Run a statement over a batch of rows (built on `queries.batched`) for all of `rows`: on
    PostgreSQL once, with each parameter's values as one array; elsewhere once per row. The
    rows its RETURNING clause gives, if it has one."""
    if not rows or conn.dialect.name != "postgresql":
        return await execute_many(conn, statement, rows)
    return await execute(conn, statement, {name: [row[name] for row in rows] for name in rows[0]})


def driver_of(conn: Conn) -> sqlite.Connection | None:
    """The inline SQLite driver connection under `conn`, or None (PostgreSQL)."""
    if isinstance(conn, Driver):
        return conn.connection
    if conn.dialect.name != "sqlite" or conn.sync_connection is None:
        return None
    # Plain attributes of the connection already in a transaction: `get_raw_connection()`
    # costs a greenlet switch (~8 µs) per statement.
    driver = conn.sync_connection.connection.driver_connection
    return driver if isinstance(driver, sqlite.Connection) else None
