"""Named operations on the workflows as they are configured (reached as `Store.workflows`); the
trigger lookups and the run queue are `hookhub.db.runs`."""

from __future__ import annotations

from hookhub.db.crud import Objects
from hookhub.db.tables import workflows


class WorkflowStore(Objects):
    """Create, read, change and delete workflows (`Objects`), over the store's connections."""

    table = workflows
