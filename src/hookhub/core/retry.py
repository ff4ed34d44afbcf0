"""Retry policies: when to try a failed delivery again, or whether to give up."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

# seconds: close to Standard Webhooks' schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
DEFAULT_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
STRATEGIES = ("exponential", "fixed", "schedule")
# Fraction of an exponential delay randomised, so failing receivers aren't hit in lockstep.
JITTER = 0.2
# seconds: the longest wait a receiver's Retry-After can impose; beyond it the header is
# capped, so a typo on the receiver's side can't park deliveries for months.
MAX_RETRY_AFTER = 86400.0


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value (delay-seconds or an HTTP date), capped at
    `MAX_RETRY_AFTER`; None when absent or unparseable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries a delivery gets in all, and the wait before each retry."""

    max_attempts: int = 4
    strategy: str = "exponential"
    interval: float = 5.0  # seconds: the fixed wait, or the first exponential one
    max_interval: float = 3600.0  # seconds: cap on exponential waits
    schedule: Sequence[float] = field(default=DEFAULT_SCHEDULE)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> RetryPolicy:
        """A policy from its stored JSON form (already validated by the API)."""
        if not raw:
            return cls()
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        if "schedule" in known:
            known["schedule"] = tuple(known["schedule"] or DEFAULT_SCHEDULE)
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        """The stored and API form of the policy."""
        return {
            "max_attempts": self.max_attempts,
            "strategy": self.strategy,
            "interval": self.interval,
            "max_interval": self.max_interval,
            "schedule": list(self.schedule),
        }

    def delay_after(self, attempts_made: int) -> float | None:
        """Seconds to wait after `attempts_made` tries (>= 1), or None when no tries remain.

        max_attempts 0 and 1 both mean best effort: one try, no retry.
        """
        if attempts_made >= max(self.max_attempts, 1):
            return None
        if self.strategy == "fixed":
            return self.interval
        if self.strategy == "schedule":
            steps = self.schedule or DEFAULT_SCHEDULE
            return float(steps[min(attempts_made, len(steps)) - 1])
        base = min(self.interval * 2.0 ** (attempts_made - 1), self.max_interval)
        return base * (1 - JITTER + 2 * JITTER * random.random())
