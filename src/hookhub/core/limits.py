"""The ranges of the numbers users write, and the arithmetic of a webhook's send limits.

Every door (the API, the UI, `hookhub apply`) validates through the same pydantic models, whose
numeric fields are annotated with a `Range` from here: finite, within a range, and rejected with a
message naming that range. The dispatcher checks stored webhooks against the same bounds
(`plan_sends`): a row written by an older version, or by hand, may hold anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import annotated_types
import pydantic
from pydantic import WrapValidator
from pydantic.types import AllowInfNan
from pydantic_core import PydanticCustomError

DAY = 86400.0  # seconds
WEEK = 7 * DAY  # seconds

# Webhooks. MIN_RATE is one send per 1,000 s (about 17 minutes); send slots are 1 / rate
# apart, which overflows to infinity near 5e-324.
MIN_RATE, MAX_RATE = 0.001, 100_000.0  # sends per second
MAX_CONCURRENCY = 10_000  # requests in flight for one webhook
MIN_TIMEOUT, MAX_TIMEOUT = 0.5, 120.0  # seconds, a whole outbound request
MAX_ATTEMPTS = 100  # tries of one delivery
MIN_RETRY_WAIT, MAX_RETRY_WAIT = 0.01, WEEK  # seconds between two tries
MAX_FAILURE_THRESHOLD = 1_000_000  # consecutive failed attempts before auto-disable
MAX_FAILURE_WINDOW = 30 * DAY  # seconds the failures must span
MAX_GRACE = 30 * DAY  # seconds a rotated-out secret may keep signing

# Workflows and their triggers.
MIN_TOLERANCE, MAX_TOLERANCE = 1.0, WEEK  # seconds a signed timestamp may be off
MIN_DEDUPE_WINDOW, MAX_DEDUPE_WINDOW = 1.0, 30 * DAY  # seconds a delivery id is remembered
MIN_SYNC_TIMEOUT, MAX_SYNC_TIMEOUT = 0.1, 300.0  # seconds a sync trigger waits for its run
MAX_TRIGGER_CONCURRENCY = 100_000  # runs of one workflow at once
MIN_STATUS, MAX_STATUS = 100, 599  # HTTP status codes a trigger or node answers with

_OUT_OF_RANGE = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}
)


class BrokenLimit(ValueError):
    """A stored webhook's limits cannot be applied (out of range, not a number)."""


def _shown(value: float) -> str:
    """`value` as a message shows it: 0.001, 120, 1,000,000."""
    return format(value, ",.10g")


@dataclass(frozen=True)
class Range(annotated_types.GroupedMetadata):
    """`Annotated[float, Range(0.5, 120, "seconds")]`: a finite number from `low` to `high`
    (both included), whose error names the range ("must be from 0.5 to 120 seconds, got 0");
    the OpenAPI schema carries the bounds as minimum and maximum."""

    low: float
    high: float
    unit: str = ""

    def __iter__(self) -> Iterator[object]:
        yield annotated_types.Ge(self.low)
        yield annotated_types.Le(self.high)
        yield AllowInfNan(False)
        yield WrapValidator(self._check)

    def describe(self) -> str:
        """The range as messages and docs show it: "from 0.5 to 120 seconds"."""
        unit = f" {self.unit}" if self.unit else ""
        return f"from {_shown(self.low)} to {_shown(self.high)}{unit}"

    def _check(self, value: Any, handler: pydantic.ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except pydantic.ValidationError as exc:
            if exc.errors()[0]["type"] not in _OUT_OF_RANGE:
                raise
            context = {"range": self.describe(), "got": str(value)}
            raise PydanticCustomError(
                "out_of_range", "must be {range}, got {got}", context
            ) from None


@dataclass(frozen=True)
class Sends:
    """What one claim may take of a limited webhook's due deliveries."""

    allowance: int  # deliveries to claim now (0: none)
    start: float  # epoch seconds: the first one's send slot
    interval: float | None  # seconds between two sends; None without a rate limit

    def slot(self, index: int) -> float:
        """When the `index`-th delivery claimed (from 0) may start."""
        return self.start + index * (self.interval or 0.0)

    def next_free(self, claimed: int) -> float:
        """The webhook's next free send slot once `claimed` deliveries took theirs."""
        return self.start + claimed * (self.interval or 0.0)


def plan_sends(
    rate: float | None,
    max_concurrency: int | None,
    busy: int,
    next_send_at: float | None,
    room: int,
    now: float,
    horizon: float,
) -> Sends:
    """How many due deliveries of a webhook a claim at `now` may take, with at most `room` free
    and `busy` of the webhook's requests in flight: within `max_concurrency`, and with a rate
    limit only those whose slot (one per 1 / `rate` s from `next_send_at`) starts within
    `horizon` seconds.

    A `next_send_at` that no claim at this rate can have written (not finite, or more than a
    slot past the horizon: the rate was lower) is taken as now. BrokenLimit when `rate` or
    `max_concurrency` is outside the range the API accepts: no safe send plan exists.
    """
    if max_concurrency is not None and not 1 <= max_concurrency <= MAX_CONCURRENCY:
        raise BrokenLimit(
            f"max_concurrency {max_concurrency!r} is outside 1 to {_shown(MAX_CONCURRENCY)}"
        )
    allowance = room
    if max_concurrency is not None:
        allowance = min(allowance, max_concurrency - busy)
    if rate is None:
        return Sends(max(allowance, 0), now, None)
    if not MIN_RATE <= rate <= MAX_RATE:  # also NaN
        raise BrokenLimit(
            f"rate_limit {rate!r} is outside {_shown(MIN_RATE)} to {_shown(MAX_RATE)} per second"
        )
    interval = 1.0 / rate
    start = now
    if next_send_at is not None and next_send_at <= now + horizon + interval:  # NaN: False
        start = max(next_send_at, now)
    # Floor, not int(): a slot past the horizon allows nothing (int() rounds -0.5 up to 0,
    # which claimed a delivery whose slot its lease did not cover).
    allowance = min(allowance, math.floor((now + horizon - start) * rate) + 1)
    return Sends(max(allowance, 0), start, interval)


# The rate limits one send keeps: (kind, id, seconds between two sends), kind "webhook" or
# "tenant".
Pace = tuple[tuple[str, str, float], ...]


class Pacer:
    """The send slot each rate-limited webhook and tenant last used in this process, so that
    slots that come due late together (the loop was held up) go out an interval apart, not in
    a burst at the receiver."""

    def __init__(self) -> None:
        self._used: dict[tuple[str, str], float] = {}

    def due(self, send_at: float, pace: Pace) -> float:
        """When a send slotted at `send_at` may start: not before an interval after the slot
        its webhook's (and tenant's) previous send used."""
        at = send_at
        for kind, key, interval in pace:
            last = self._used.get((kind, key))
            if last is not None:
                at = max(at, last + interval)
        return at

    def take(self, pace: Pace, at: float, now: float) -> None:
        """A send due `at` starts `now`. It used slot `at`; or, late by more than half an
        interval, `now`, so the sends after it are spaced from when it really went (on-time
        jitter is not counted: it would slow every limited webhook below its rate)."""
        for kind, key, interval in pace:
            self._used[(kind, key)] = at if now - at <= interval / 2 else now
