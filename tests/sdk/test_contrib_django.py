"""hookhub.contrib.django, through the example project in examples/django_app: its views'
changes become NetBox-shaped events (merged per request, user and request id attached), a
rolled-back change emits nothing, and a hookhub dispatcher delivers them to a receiver.

Django refuses ORM calls from a thread running an event loop, so its part runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.test import Client
from sqlalchemy import select

from hookhub.db.store import Store
from hookhub.db.tables import events
from hookhub.migrations import upgrade
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.settings import Settings
from tests.sdk.routes import route_to
from tests.support.receiver import Receiver

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django_app"


@pytest.fixture(scope="module")
def hookhub_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """hookhub's database, and the example project set up to write to it."""
    where = tmp_path_factory.mktemp("django")
    url = f"sqlite:///{where / 'hookhub.db'}"
    upgrade(url)
    environment = {
        "DJANGO_DATABASE": str(where / "app.db"),
        "HOOKHUB_DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    sys.path.insert(0, str(EXAMPLE))
    try:
        django.setup()  # the settings module reads the environment now, once
        call_command("migrate", verbosity=0)
        connections.close_all()
    finally:
        # Other tests (and the processes they start) must not inherit these.
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value
    try:
        yield url
    finally:
        sys.path.remove(str(EXAMPLE))


def _use_the_app() -> list[int]:
    from django.contrib.auth.models import User
    from inventory.models import Device

    try:
        client = Client()
        client.force_login(User.objects.create_user("ada"))
        codes = [client.post("/devices/", {"name": "sw1"}).status_code]
        device = Device.objects.get(name="sw1")
        codes.append(client.post(f"/devices/{device.pk}/", {"status": "active"}).status_code)
        codes.append(client.post(f"/devices/{device.pk}/retire/").status_code)
        # Outside a request, each commit is written at once; a rollback writes nothing.
        with pytest.raises(RuntimeError), transaction.atomic():
            Device.objects.create(name="never")
            raise RuntimeError("roll back")
        Device.objects.create(name="sw2")
        return codes
    finally:
        connections.close_all()


async def _stored(url: str) -> list[dict[str, Any]]:
    store = Store.open(url)
    try:
        async with store.read() as conn:
            rows = await conn.execute(select(events).order_by(events.c.received_at, events.c.id))
            return [dict(row._mapping) for row in rows]
    finally:
        await store.close()


async def test_the_example_projects_changes_are_delivered(
    hookhub_url: str, receiver: Receiver
) -> None:
    store = Store.open(hookhub_url)
    try:
        await route_to(store, receiver.url)
        assert await asyncio.to_thread(_use_the_app) == [201, 200, 204]
        dispatcher = Dispatcher(store, Settings(database_url=hookhub_url))
        await dispatcher.drain()
        await dispatcher.sender.close()
    finally:
        await store.close()

    created, updated, deleted, alone = await _stored(hookhub_url)
    assert (created["object_type"], created["event"]) == ("inventory.device", "created")
    assert created["data"]["status"] == {"value": "planned"}
    assert created["username"] == "ada" and created["request_id"]
    assert updated["event"] == "updated"
    assert updated["snapshots"]["prechange"]["status"] == {"value": "planned"}
    assert updated["snapshots"]["postchange"]["status"] == {"value": "active"}
    # One request updated (status → retired) then deleted the device: one "deleted" event.
    assert deleted["event"] == "deleted"
    assert deleted["snapshots"]["prechange"]["status"] == {"value": "active"}
    assert deleted["snapshots"]["postchange"] is None
    assert deleted["data"]["status"] == {"value": "retired"}
    assert deleted["request_id"] != created["request_id"]
    assert (alone["data"]["name"], alone["username"], alone["request_id"]) == ("sw2", None, None)
    assert len(receiver.requests) == 4
