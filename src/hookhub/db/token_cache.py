"""Live API tokens recently found, believed for a few seconds without asking the database.

Every API request presents a token, and looking it up cost more than the rest of
`POST /events`. A token revoked through the same store is forgotten at once; one revoked through
another process (the CLI, another API node) is refused within `TTL` seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TTL = 5.0  # seconds a found token is believed
SIZE = 1024  # tokens remembered at most; the cache is emptied when full


class TokenCache:
    """Token rows by token hash, each until its deadline. Misses are never remembered."""

    def __init__(self) -> None:
        self._found: dict[str, tuple[float, Mapping[str, Any]]] = {}  # hash → (until, row)

    def get(self, token_hash: str, now: float) -> dict[str, Any] | None:
        """The row remembered for `token_hash`, if still believed at `now`."""
        hit = self._found.get(token_hash)
        if hit is None or hit[0] <= now:
            return None
        return dict(hit[1])

    def put(self, token_hash: str, row: Mapping[str, Any], now: float) -> None:
        """Remember a live token's row from `now` on."""
        if len(self._found) >= SIZE:
            self._found.clear()
        self._found[token_hash] = (now + TTL, dict(row))

    def forget(self, token_id: str) -> None:
        """Stop believing token `token_id` (it was just revoked)."""
        self._found = {k: v for k, v in self._found.items() if v[1]["id"] != token_id}
