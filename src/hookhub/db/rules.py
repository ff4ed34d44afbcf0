"""Named operations on the rules (reached as `Store.rules`); which rules deliver to a webhook
during intake is `hookhub.db.ingest`'s."""

from __future__ import annotations

from hookhub.db.crud import Objects
from hookhub.db.tables import rules


class RuleStore(Objects):
    """Create, read, change and delete rules (`Objects`), over the store's connections."""

    table = rules
