"""Named operations on the workflows as they are configured (reached as `Store.workflows`); the
trigger lookups and the run queue are `hookhub.db.runs`."""

from __future__ import annotations

from hookhub.db import crud
from hookhub.db.database import Database
from hookhub.db.records import Row
from hookhub.db.tables import workflows


class WorkflowStore:
    """Create, read, change and delete workflows, over the store's connections."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def create(self, row: Row) -> Row:
        """Store a new workflow; Conflict if its name is taken."""
        return await crud.create(self.store, workflows, row)

    async def get(self, workflow_id: str) -> Row:
        """One workflow, or NotFound."""
        return await crud.get(self.store, workflows, workflow_id)

    async def update(self, workflow_id: str, values: Row) -> Row:
        """Change a workflow's columns (its version goes up); the workflow, or NotFound."""
        return await crud.change(self.store, workflows, workflow_id, values)

    async def delete(self, workflow_id: str) -> None:
        """Delete a workflow and its runs, or NotFound."""
        await crud.remove(self.store, workflows, workflow_id)

    async def page(self, cursor: str | None, limit: int) -> tuple[list[Row], str | None]:
        """A page of workflows after `cursor`, and the next page's cursor."""
        return await crud.page(self.store, workflows, {}, cursor, limit)

    async def count(self, cap: int) -> int:
        """How many workflows there are, counting no further than `cap`."""
        return await crud.count(self.store, workflows, {}, cap)

    async def every(self) -> list[Row]:
        """Every workflow."""
        return await crud.every(self.store, workflows)
