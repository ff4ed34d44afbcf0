"""Times as every door shows and reads them: epoch seconds inside, ISO 8601 UTC outside."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def iso(epoch: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC, or None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


@overload
def epoch(moment: datetime) -> float: ...
@overload
def epoch(moment: None) -> None: ...
def epoch(moment: datetime | None) -> float | None:
    """A date and time as epoch seconds; one without a zone is UTC, like every time shown."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
