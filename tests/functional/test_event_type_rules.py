"""Rules and the event-type catalog: a rule may name a type in full (`invoice.paid`) and it
matches; a type the (non-empty) catalog lacks is warned about, or refused with
`HOOKHUB_STRICT_EVENT_TYPES`; an empty catalog changes nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from hookhub.db.store import Store
from hookhub.errors import ValidationError
from hookhub.services import rules
from hookhub.services.common import Context
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.support.receiver import Receiver

on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _webhook(hookhub: Hookhub, receiver: Receiver) -> str:
    body = {"name": "billing", "url": receiver.url, "retry": {"max_attempts": 1}}
    created = await hookhub.admin.post("/webhooks", json=body)
    assert created.status_code == 201, created.text
    webhook_id: str = created.json()["id"]
    return webhook_id


async def _rule(hookhub: Hookhub, **fields: Any) -> dict[str, Any]:
    created = await hookhub.admin.post("/rules", json={"name": "r", **fields})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    await hookhub.admin.delete(f"/rules/{body['id']}")
    return body


async def test_a_rule_naming_a_type_in_full_matches_its_events(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    await hookhub.admin.post("/event-types", json={"name": "invoice.paid"})
    rule = {
        "name": "paid",
        "event_types": ["invoice.paid"],
        "webhook_id": await _webhook(hookhub, receiver),
    }
    created = await hookhub.admin.post("/rules", json=rule)
    assert created.status_code == 201, created.text
    assert created.json()["warnings"] == []
    paid = {"object_type": "invoice", "event": "paid", "data": {"id": 1}}
    other = {"object_type": "customer", "event": "paid", "data": {"id": 2}}
    accepted = await hookhub.admin.post("/events", json=[paid, other])
    assert accepted.json()["deliveries"] == 1
    await receiver.wait_for(1)


@on_sqlite
async def test_unknown_types_are_warned_about_once_the_catalog_is_used(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    webhook_id = await _webhook(hookhub, receiver)
    unused = await _rule(hookhub, event_types=["payd"], webhook_id=webhook_id)
    assert not any("catalog" in said for said in unused["warnings"])

    for name in ("invoice.paid", "invoice.sent", "dcim.device.created"):
        assert (await hookhub.admin.post("/event-types", json={"name": name})).status_code == 201
    known = await _rule(
        hookhub, object_types=["invoice"], event_types=["paid", "sent"], webhook_id=webhook_id
    )
    assert known["warnings"] == []
    assert (await _rule(hookhub, object_types=["invoice"], webhook_id=webhook_id))["warnings"] == []
    typo = await _rule(hookhub, event_types=["invoice.payd"], webhook_id=webhook_id)
    assert (
        "event type 'invoice.payd' is not in the event-type catalog"
        " (did you mean 'invoice.paid'?)" in typo["warnings"]
    )
    wrong_object = await _rule(
        hookhub, object_types=["customer"], event_types=["paid"], webhook_id=webhook_id
    )
    assert "event type 'paid' is not in the event-type catalog" in wrong_object["warnings"][0]
    objects_only = await _rule(hookhub, object_types=["invoices"], webhook_id=webhook_id)
    assert objects_only["warnings"][0].startswith(
        "no type of the event-type catalog has object_type 'invoices'"
    )
    netbox = await _rule(
        hookhub, object_types=["dcim.device"], event_types=["object_created"], webhook_id=webhook_id
    )
    assert netbox["warnings"] == [
        "event type 'object_created' is NetBox's name: it matches events named 'created'"
    ]


@on_sqlite
async def test_strict_event_types_refuses_unknown_types(
    hookhub: Hookhub, receiver: Receiver, store: Store, settings: Settings
) -> None:
    strict = Context(store, replace(settings, strict_event_types=True))
    webhook_id = await _webhook(hookhub, receiver)
    typo = rules.RuleIn(name="typo", event_types=["invoice.payd"], webhook_id=webhook_id)
    await rules.create(strict, typo)  # an empty catalog refuses nothing
    await hookhub.admin.post("/event-types", json={"name": "invoice.paid"})
    with pytest.raises(ValidationError) as refused:
        await rules.create(strict, typo.model_copy(update={"name": "typo2"}))
    assert refused.value.field == "event_types"
    assert "'invoice.payd' is not in the event-type catalog" in refused.value.message
    good = await rules.create(
        strict, rules.RuleIn(name="good", event_types=["invoice.paid"], webhook_id=webhook_id)
    )
    with pytest.raises(ValidationError):
        await rules.change(strict, good.row["id"], {"object_types": ["customer"]})


@on_sqlite
async def test_a_type_named_in_full_whose_events_were_seen_is_not_warned_about(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    webhook_id = await _webhook(hookhub, receiver)
    seen = {"object_type": "dcim.device", "event": "job.completed"}
    assert (await hookhub.admin.post("/events", json=seen)).status_code == 202
    rule = await _rule(hookhub, event_types=["dcim.device.job.completed"], webhook_id=webhook_id)
    assert rule["warnings"] == []
    unseen = await _rule(hookhub, event_types=["dcim.site.job.completed"], webhook_id=webhook_id)
    assert unseen["warnings"]
