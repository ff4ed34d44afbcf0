"""`last_used_at`: written off the request's path, at most once a minute per token."""

from __future__ import annotations

from typing import Any

from hookhub.api.auth import TokenUse


class Recorder:
    """A store that records `touch_token` calls."""

    def __init__(self) -> None:
        self.touched: list[tuple[str, float]] = []

    async def touch_token(self, token_id: str, when: float) -> None:
        self.touched.append((token_id, when))


def token(token_id: str, last_used_at: float | None = None) -> dict[str, Any]:
    return {"id": token_id, "last_used_at": last_used_at}


async def test_one_write_per_token_per_minute() -> None:
    store = Recorder()
    use = TokenUse(store)  # type: ignore[arg-type]
    use.seen(token("a"), 1000.0)
    use.seen(token("a"), 1030.0)
    use.seen(token("b"), 1030.0)
    use.seen(token("a"), 1059.9)
    use.seen(token("a"), 1060.0)
    # Another process wrote c's a moment ago: the row says so.
    use.seen(token("c", last_used_at=1050.0), 1070.0)
    await use.close()
    assert store.touched == [("a", 1000.0), ("b", 1030.0), ("a", 1060.0)]
