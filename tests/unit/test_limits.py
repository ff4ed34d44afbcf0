"""Numeric ranges (`Range`), the send plan of a limited webhook (`plan_sends`), and the pacing of
its sends within a process (`Pacer`)."""

from __future__ import annotations

import itertools
import math
from typing import Annotated

import pydantic
import pytest

from hookhub.core.limits import MIN_RATE, BrokenLimit, Pacer, Range, plan_sends

NOW = 1_000_000.0
HORIZON = 1.0


class Model(pydantic.BaseModel):
    rate: Annotated[float, Range(0.001, 100_000, "per second")] | None = None
    count: Annotated[int, Range(1, 10)] = 1


@pytest.mark.parametrize("value", [5e-324, 0, -1, 100_001, math.inf, -math.inf, math.nan, "inf"])
def test_out_of_range_numbers_are_refused_naming_the_range(value: object) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Model.model_validate({"rate": value})
    [error] = caught.value.errors()
    assert error["type"] == "out_of_range"
    assert error["msg"].startswith("must be from 0.001 to 100,000 per second, got ")


def test_ranges_keep_other_errors_and_accept_the_bounds() -> None:
    assert Model.model_validate({"rate": 0.001, "count": 10}).rate == 0.001
    assert Model.model_validate({"rate": None}).rate is None
    with pytest.raises(pydantic.ValidationError) as caught:
        Model.model_validate({"count": "many"})
    assert caught.value.errors()[0]["type"] == "int_parsing"
    with pytest.raises(pydantic.ValidationError, match="must be from 1 to 10, got 0"):
        Model.model_validate({"count": 0})
    schema = Model.model_json_schema()["properties"]["count"]
    assert (schema["minimum"], schema["maximum"]) == (1, 10)


def test_a_rate_spaces_the_slots_within_the_horizon() -> None:
    sends = plan_sends(10.0, None, 0, None, 100, NOW, HORIZON)
    assert (sends.allowance, sends.start, sends.interval) == (11, NOW, 0.1)
    assert sends.slot(10) == pytest.approx(NOW + 1.0)
    assert sends.next_free(11) == pytest.approx(NOW + 1.1)


def test_concurrency_bounds_the_allowance() -> None:
    assert plan_sends(None, 3, 1, None, 100, NOW, HORIZON).allowance == 2
    assert plan_sends(None, 3, 5, None, 100, NOW, HORIZON).allowance == 0
    assert plan_sends(100.0, 3, 0, None, 100, NOW, HORIZON).allowance == 3


def test_a_slot_past_the_horizon_allows_nothing() -> None:
    # int() rounded (horizon - slot) * rate = -0.5 up to 0 and claimed one whose slot, 1.5 s
    # away, its lease did not cover.
    sends = plan_sends(0.5, None, 0, NOW + 2.0, 100, NOW, HORIZON)
    assert sends.allowance == 0


def test_the_slowest_rate_schedules_a_finite_next_slot() -> None:
    sends = plan_sends(MIN_RATE, None, 0, None, 100, NOW, HORIZON)
    assert sends.allowance == 1
    assert sends.next_free(1) == NOW + 1000.0


@pytest.mark.parametrize("stored", [math.inf, math.nan, -math.inf, 1e300, NOW + 3600.0])
def test_a_next_slot_no_claim_at_this_rate_wrote_restarts_now(stored: float) -> None:
    sends = plan_sends(10.0, None, 0, stored, 100, NOW, HORIZON)
    assert (sends.allowance, sends.start) == (11, NOW)


@pytest.mark.parametrize(
    ("rate", "concurrency"),
    [(5e-324, None), (0.0, None), (-1.0, None), (math.nan, None), (math.inf, None), (1.0, 0)],
)
def test_unusable_stored_limits_raise(rate: float, concurrency: int | None) -> None:
    with pytest.raises(BrokenLimit) as caught:
        plan_sends(rate, concurrency, 0, NOW, 100, NOW, HORIZON)
    assert ("rate_limit" if concurrency is None else "max_concurrency") in str(caught.value)


WEBHOOK = (("webhook", "wh_1", 0.1),)  # 10/s


def test_sends_on_time_keep_their_slots() -> None:
    pacer = Pacer()
    for index in range(5):
        slot = NOW + index * 0.1
        at = pacer.due(slot, WEBHOOK)
        assert at == slot  # jitter of the previous start does not push it
        pacer.take(WEBHOOK, at, at + 0.004)


def test_slots_woken_late_together_go_out_an_interval_apart() -> None:
    pacer = Pacer()
    # Slots at 0, 0.1, 0.2 and 0.3 s; the loop was held up until 0.35 s.
    late = NOW + 0.35
    first = pacer.due(NOW, WEBHOOK)
    pacer.take(WEBHOOK, first, late)
    starts = [late]
    for index in range(1, 4):
        at = pacer.due(NOW + index * 0.1, WEBHOOK)
        pacer.take(WEBHOOK, at, at)
        starts.append(at)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([0.1, 0.1, 0.1])


def test_a_tenants_rate_paces_its_webhooks_together() -> None:
    pacer = Pacer()
    tenant = ("tenant", "acme", 0.1)
    one, two = (("webhook", "wh_1", 0.01), tenant), (("webhook", "wh_2", 0.01), tenant)
    pacer.take(one, NOW, NOW + 0.3)  # late: the tenant's next send is spaced from 0.3 s
    assert pacer.due(NOW + 0.1, two) == pytest.approx(NOW + 0.4)
    assert pacer.due(NOW + 0.1, (("webhook", "wh_2", 0.01),)) == NOW + 0.1
