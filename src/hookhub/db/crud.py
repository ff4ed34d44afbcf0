"""Reads and writes of one row by key, and pages of rows, on any table with a one-column primary
key (`id`, or `name` for event types): what the store's named operations
(`store.workflows.get`, `store.sources.create`, ...) are made of.

Only `db/` passes a table here; everything above asks for a resource by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Table,
    TextClause,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from hookhub.db import direct
from hookhub.db.database import Database
from hookhub.db.records import Row
from hookhub.errors import Conflict, NotFound

EVERY_PAGE = 500  # rows `every` reads at a time

Condition = ColumnElement[bool] | TextClause  # a WHERE term a page or count adds


async def create(db: Database, table: Table, values: Mapping[str, Any]) -> Row:
    """Insert one row, turning a unique-name clash into Conflict."""
    try:
        async with db.write() as conn:
            await conn.execute(insert(table).values(**values))
    except IntegrityError as exc:
        raise conflict(table, exc) from None
    return dict(values)


def key(table: Table) -> Column[Any]:
    """The one column of `table`'s primary key (`id` for most)."""
    (column,) = table.primary_key.columns
    return column


def missing(table: Table, row_id: str) -> NotFound:
    """The NotFound for a row of `table` that is not there."""
    how = "named" if key(table).name == "name" else "with id"
    return NotFound(f"no {noun(table)} {how} {row_id!r}")


async def get(db: Database, table: Table, row_id: str) -> Row:
    """One row by key, or NotFound."""
    async with db.read() as conn:
        row = (await conn.execute(select(table).where(key(table) == row_id))).first()
    if row is None:
        raise missing(table, row_id)
    return dict(row._mapping)


async def page(
    db: Database,
    table: Table,
    filters: Mapping[str, Any],
    cursor: str | None,
    limit: int,
    ascending: bool = False,
    where: Sequence[Condition] = (),
) -> tuple[list[Row], str | None]:
    """Rows matching equality `filters` (and the conditions `where`), newest first (by key:
    `ascending` for A to Z), after `cursor`; and the next cursor."""
    column = key(table)
    query = select(table).where(*where)
    query = query.order_by(column if ascending else column.desc()).limit(limit + 1)
    for name, value in filters.items():
        if value is not None:
            query = query.where(table.c[name] == value)
    if cursor:
        query = query.where(column > cursor if ascending else column < cursor)
    async with db.read() as conn:
        found = direct.rows_of(await conn.execute(query))
    more = len(found) > limit
    found = found[:limit]
    return found, (found[-1][column.name] if more else None)


async def every(db: Database, table: Table, ascending: bool = False) -> list[Row]:
    """Every row of a table of configured objects, in `page`'s order, read a page at a time."""
    rows: list[Row] = []
    cursor: str | None = None
    while True:
        batch, cursor = await page(db, table, {}, cursor, EVERY_PAGE, ascending)
        rows.extend(batch)
        if cursor is None:
            return rows


async def count(
    db: Database,
    table: Table,
    filters: Mapping[str, Any],
    cap: int,
    where: Sequence[Condition] = (),
) -> int:
    """How many rows match equality `filters` (and the conditions `where`), counting no further
    than `cap` (a list's total stays cheap on a huge table: the caller shows "cap+")."""
    query = select(table.c.id).where(*where).limit(cap)
    for name, value in filters.items():
        if value is not None:
            query = query.where(table.c[name] == value)
    async with db.read() as conn:
        counted = select(func.count()).select_from(query.subquery())
        return int((await conn.execute(counted)).scalar_one())


async def change(db: Database, table: Table, row_id: str, values: Mapping[str, Any]) -> Row:
    """Change some columns of one row, bumping `version` where the table has one; the row."""
    statement = update(table).where(key(table) == row_id)
    if "version" in table.c:
        statement = statement.values(version=table.c.version + 1)
    try:
        async with db.write() as conn:
            result = await conn.execute(statement.values(**values))
    except IntegrityError as exc:
        raise conflict(table, exc) from None
    if result.rowcount == 0:
        raise missing(table, row_id)
    return await get(db, table, values.get(key(table).name, row_id))


async def remove(db: Database, table: Table, row_id: str) -> None:
    """Delete one row by key, or NotFound."""
    async with db.write() as conn:
        result = await conn.execute(delete(table).where(key(table) == row_id))
    if result.rowcount == 0:
        raise missing(table, row_id)


class Objects:
    """Rows of one table of configured objects, by id, and pages of them: the named stores that
    subclass it (`store.webhooks`, `store.rules`, `store.workflows`, `store.sources`,
    `store.event_types`) name the table, and whether pages go A to Z by key (`ascending`)."""

    table: ClassVar[Table]
    ascending: ClassVar[bool] = False

    def __init__(self, store: Database) -> None:
        self.store = store

    async def create(self, row: Mapping[str, Any]) -> Row:
        """Store a new one; Conflict if its name is taken."""
        return await create(self.store, self.table, row)

    async def get(self, object_id: str) -> Row:
        """One by id, or NotFound."""
        return await get(self.store, self.table, object_id)

    async def update(self, object_id: str, values: Mapping[str, Any]) -> Row:
        """Change some columns of one (its version goes up where it has one); it, or NotFound."""
        return await change(self.store, self.table, object_id, values)

    async def delete(self, object_id: str) -> None:
        """Delete one (what refers to it goes with it), or NotFound."""
        await remove(self.store, self.table, object_id)

    async def page(
        self, cursor: str | None, limit: int, **where: Any
    ) -> tuple[list[Row], str | None]:
        """Newest first, after `cursor`, those whose columns equal `where` (None: any); and the
        next page's cursor."""
        return await page(self.store, self.table, where, cursor, limit, self.ascending)

    async def count(self, cap: int, **where: Any) -> int:
        """How many there are (whose columns equal `where`), counting no further than `cap`."""
        return await count(self.store, self.table, where, cap)

    async def every(self) -> list[Row]:
        """All of them, in `page`'s order."""
        return await every(self.store, self.table, self.ascending)


def conflict(table: Table | None, exc: IntegrityError) -> Conflict:
    """The Conflict a refused write to `table` (None: to several) means."""
    if table is None:  # writes to several tables: the database's own words
        return Conflict(f"the database refused a change: {exc.orig}")
    named = key(table).name == "name"  # the key's own constraint does not say "name"
    if "name" in table.c and (named or "name" in str(exc.orig).lower()):
        article = "an" if noun(table)[0] in "aeiou" else "a"
        return Conflict(f"{article} {noun(table)} with this name already exists", field="name")
    if "foreign key" in str(exc.orig).lower():
        return Conflict("a referenced object does not exist")
    return Conflict(f"conflicts with an existing {noun(table)}")


def noun(table: Table) -> str:
    """A table's name in the singular, for messages ("deliveries" -> "delivery")."""
    name = table.name.replace("_", " ")
    return name[:-3] + "y" if name.endswith("ies") else name[:-1]
