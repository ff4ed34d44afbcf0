"""Group commit for POST /events: concurrent small requests share one transaction, and each
still gets its own ids and delivery count, only once that transaction has committed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from hookhub.db.ingest import Router
from hookhub.db.store import Row, Store
from hookhub.outbound.intake import GROUP_EVENTS, Intake
from tests.conftest import Hookhub

DEVICE = {"object_type": "dcim.device", "event": "updated", "data": {"id": 1}}


class CountingStore(Store):
    """A store that counts intake transactions and can be made to fail them."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.engine)
        self.transactions: list[int] = []  # events per intake transaction
        self.fail: Exception | None = None

    async def ingest(
        self, rows: Sequence[Row], route: Router, since: float | None = None
    ) -> dict[str, int]:
        self.transactions.append(len(rows))
        if self.fail is not None:
            raise self.fail
        return await super().ingest(rows, route, since)


async def _webhook_with_rule(hookhub: Hookhub) -> None:
    body = {"name": "group", "url": "http://127.0.0.1:9/hook", "enabled": False}
    created = await hookhub.admin.post("/webhooks", json=body)
    assert created.status_code == 201, created.text
    rule = {"name": "all", "webhook_id": created.json()["id"]}
    assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201


async def test_concurrent_requests_share_one_transaction(hookhub: Hookhub, store: Store) -> None:
    await _webhook_with_rule(hookhub)
    counting = CountingStore(store)
    woken: list[int] = []
    intake = Intake(counting, lambda: woken.append(1))
    requests: list[list[Mapping[str, Any]]] = [[DEVICE] for _ in range(30)]
    requests.append([{**DEVICE, "id": "evt_mine"}, {**DEVICE, "id": "evt_mine"}])
    answers = await asyncio.gather(*(intake.submit(events) for events in requests))
    assert counting.transactions == [31]  # 32 events, one id twice
    assert [a.deliveries for a in answers] == [1] * 30 + [1]
    assert answers[-1].ids == ["evt_mine", "evt_mine"]
    assert len({a.ids[0] for a in answers}) == 31
    assert woken == [1]


async def test_an_id_in_two_concurrent_requests_is_created_by_the_first(
    hookhub: Hookhub, store: Store
) -> None:
    await _webhook_with_rule(hookhub)
    intake = Intake(store)
    event = {**DEVICE, "id": "evt_twice"}
    first, second = await asyncio.gather(intake.submit([event]), intake.submit([event]))
    assert (first.ids, first.deliveries) == (["evt_twice"], 1)
    assert (second.ids, second.deliveries) == (["evt_twice"], 0)


async def test_a_failed_transaction_fails_every_request_in_it(store: Store) -> None:
    counting = CountingStore(store)
    counting.fail = ConnectionError("database went away")
    intake = Intake(counting)
    answers = await asyncio.gather(
        *(intake.submit([DEVICE]) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(a, ConnectionError) for a in answers)
    assert counting.transactions == [3]


async def test_large_requests_get_a_transaction_of_their_own(store: Store) -> None:
    counting = CountingStore(store)
    intake = Intake(counting)
    big = [DEVICE] * (GROUP_EVENTS + 1)
    await asyncio.gather(intake.submit(big), intake.submit([DEVICE]), intake.submit([DEVICE]))
    assert sorted(counting.transactions) == [2, GROUP_EVENTS + 1]


@pytest.mark.parametrize("count", [1, 5])
async def test_the_api_answers_each_request_with_its_own_ids(hookhub: Hookhub, count: int) -> None:
    batch = [{**DEVICE, "id": f"evt_api_{count}_{i}"} for i in range(count)]
    answers = await asyncio.gather(
        *(hookhub.admin.post("/events", json=batch if count > 1 else batch[0]) for _ in range(4))
    )
    assert {a.status_code for a in answers} == {202}
    assert all(a.json()["ids"] == [e["id"] for e in batch] for a in answers)
