"""Sources against the real local brokers: 1,000 messages in, each stored once as an event; a
malformed message recorded as a failure, not a crash loop; credentials masked; clear errors."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookhub.config.apply import apply, current, plan_for
from hookhub.config.document import DocumentError, parse
from hookhub.config.export import dump
from hookhub.db.store import Store
from hookhub.db.tables import sources
from hookhub.inbound.sources import runner as runner_module
from hookhub.inbound.sources.runner import SourceRunner
from hookhub.outbound import retention
from hookhub.services import sources as sources_api
from hookhub.services.common import Context
from hookhub.services.users import create_user
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.functional.test_cli_objects import lines, run, through
from tests.support.brokers import CutRelay, require_broker
from tests.support.source_brokers import (
    ADDRESSES,
    MQTT_MAPPING,
    event,
    redis_stream,
    require,
    stored,
    subscribed,
    until,
)

COUNT = 1000
DAY = 86400.0  # seconds


@pytest.mark.parametrize("broker", list(ADDRESSES))
async def test_a_source_ingests_every_message_once_and_records_a_malformed_one(
    broker: str, hookhub: Hookhub, store: Store
) -> None:
    require(broker)
    url, field, channel = ADDRESSES[broker]
    async with channel() as (address, publish):
        name = f"s-{uuid.uuid4().hex}"
        mapping = MQTT_MAPPING if broker == "mqtt" else None
        created = await hookhub.admin.post(
            "/sources", json={"name": name, "url": url, field: address, "mapping": mapping}
        )
        assert created.status_code == 201, created.text
        source = created.json()
        prefix = name if broker == "mqtt" else source["id"]
        expected = COUNT
        if broker == "mqtt":  # a topic keeps nothing for a subscription not made yet
            await subscribed(store, prefix, publish)
            expected += 1
        half = COUNT // 2
        await publish([event(n) for n in range(half)])
        await publish([b"{not json", b'{"object_type": "x"}'])
        await publish([event(n) for n in range(half, COUNT)])

        async def all_in() -> bool:
            return await stored(store, prefix) >= expected

        await until(all_in)

        async def failures_recorded() -> bool:
            answer = (await hookhub.reader.get(f"/sources/{source['id']}")).json()
            return bool(answer["failures"] == 2)

        await until(failures_recorded)
        assert await stored(store, prefix) == expected
        listed = (await hookhub.reader.get(f"/sources/{source['id']}/failures")).json()
        errors = [item["error"] for item in reversed(listed["items"])]
        bodies = [item["body"] for item in reversed(listed["items"])]
        assert bodies == ["{not json", '{"object_type": "x"}']
        if mapping is None:
            assert errors[0].startswith("the body is not JSON")
            assert errors[1].startswith("not a valid event: event:")
        else:  # the templates fail on what the messages lack
            assert all(error.startswith("mapping.") for error in errors)


async def test_credentials_in_a_source_url_are_masked_and_kept(hookhub: Hookhub) -> None:
    created = await hookhub.admin.post(
        "/sources",
        json={
            "name": "masked",
            "url": "redis://user:s3cret@127.0.0.1:1/0",
            "stream": "x",
            "enabled": False,
        },
    )
    assert created.status_code == 201, created.text
    source = created.json()
    assert "s3cret" not in source["url"]
    patched = await hookhub.admin.patch(
        f"/sources/{source['id']}", json={"url": source["url"], "group": "other"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["group"] == "other"
    assert "s3cret" not in patched.text


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "kafka://h/", "topic": "t"}, "url", "no source broker"),
        ({"url": "redis://h/", "queue": "q"}, "queue", "consumes a stream"),
        (
            {"url": "redis://h/", "stream": "s", "mapping": {"event": "x"}},
            "mapping.object_type",
            "",
        ),
        (
            {"url": "redis://h/", "stream": "s", "mapping": {"object_type": "{{", "event": "e"}},
            "mapping.object_type",
            "syntax",
        ),
    ],
)
async def test_invalid_sources_are_refused_naming_the_field(
    hookhub: Hookhub, body: dict[str, Any], field: str, words: str
) -> None:
    answer = await hookhub.admin.post("/sources", json={"name": "bad", **body})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == field
    assert words in error["message"]


HOOKS = """
sources:
  - name: jobs
    url: redis://:${PW}@127.0.0.1:6379/0
    stream: netpulse:results
    enabled: false
    mapping:
      object_type: netpulse.job
      event: "job.{{ body.status }}"
"""


async def test_apply_creates_updates_and_exports_sources(store: Store, settings: Settings) -> None:
    todo = await plan_for(store, parse(HOOKS, "hooks.yaml", {"PW": "pw1"}))
    assert [(c.action, c.kind, c.name) for c in todo.changes] == [("create", "source", "jobs")]
    await apply(Context(store, settings), todo)
    again = await plan_for(store, parse(HOOKS, "hooks.yaml", {"PW": "pw1"}))
    assert [c.action for c in again.changes] == ["unchanged"]
    exported = dump(await current(store))
    assert "pw1" not in exported
    assert "${HOOKHUB_SECRET_SOURCE_JOBS_URL_PASSWORD}" in exported
    secrets = {"HOOKHUB_SECRET_SOURCE_JOBS_URL_PASSWORD": "pw1"}
    round_trip = await plan_for(store, parse(exported, "exported.yaml", secrets))
    assert [c.action for c in round_trip.changes] == ["unchanged"]
    moved = HOOKS.replace("netpulse:results", "netpulse:other")
    update = await plan_for(store, parse(moved, "hooks.yaml", {"PW": "pw1"}))
    assert [(c.action, c.fields) for c in update.changes] == [("update", ("stream",))]
    await apply(Context(store, settings), update)
    [row] = (await current(store)).sources.values()
    assert (row["address"], row["url"]) == ("netpulse:other", "redis://:pw1@127.0.0.1:6379/0")


async def test_apply_refuses_a_source_naming_the_line_and_field() -> None:
    wrong = HOOKS.replace("stream:", "queue:")
    with pytest.raises(DocumentError) as caught:
        parse(wrong, "hooks.yaml", {"PW": "x"})
    assert (
        str(caught.value) == "hooks.yaml:5: sources[jobs].queue: this URL's broker consumes a"
        " stream; queue does not apply"
    )


def _example() -> str:
    text = (Path(__file__).parents[2] / "docs" / "sources.md").read_text(encoding="utf-8")
    return text[text.index("## Example: NetPulse job results") :]


async def test_the_netpulse_example_runs_as_written(hookhub: Hookhub, store: Store) -> None:
    require("redis")
    from redis.asyncio import Redis

    example = _example()
    [source_json] = re.findall(r"```json\n(.*?)```", example, flags=re.DOTALL)
    [xadd] = re.findall(r"^\$ redis-cli XADD (\S+) '\*' (\w+) '(.*)'$", example, flags=re.M)
    stream = f"netpulse-test-{uuid.uuid4().hex}"
    source = json.loads(source_json)
    assert source["stream"] == xadd[0]
    source["stream"] = stream
    client = Redis.from_url(source["url"])
    try:
        created = await hookhub.admin.post("/sources", json=source)
        assert created.status_code == 201, created.text
        await client.xadd(stream, {xadd[1]: xadd[2]})
        await client.xadd(stream, {xadd[1]: xadd[2]})  # appended twice: one event
        [event_id] = re.findall(r"GET /api/v1/events/(\S+)`", example)

        async def arrived() -> bool:
            return (await hookhub.reader.get(f"/events/{event_id}")).status_code == 200

        await until(arrived, timeout=60)
        shown = (await hookhub.reader.get(f"/events/{event_id}")).json()
        assert (shown["object_type"], shown["event"]) == ("netpulse.job", "job.finished")
        assert shown["data"]["device"] == "core-sw-01"
        await hookhub.admin.delete(f"/sources/{created.json()['id']}")
    finally:
        await client.delete(stream)
        await client.aclose()


async def test_the_ui_lists_sources_masked_with_their_refused_messages(
    hookhub: Hookhub, store: Store
) -> None:
    created = await hookhub.admin.post(
        "/sources",
        json={"name": "ui", "url": "amqp://hh:s3cret@127.0.0.1:1/", "queue": "q", "enabled": False},
    )
    source = created.json()
    failure = {"id": "sfl_1", "message_id": "m1", "error": "the body is not JSON: x"}
    # Now, not long ago: retention, running in the server, would purge an old one.
    refused = {**failure, "body": "<b>", "created_at": time.time()}
    await store.sources.record_failures(source["id"], [refused])
    await create_user(store, "ada", "correct horse battery")
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as browser:
        page = await browser.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        login = {"csrf": csrf.group(1), "username": "ada", "password": "correct horse battery"}
        assert (await browser.post("/login", data={**login, "next": "/"})).status_code == 303
        listed = await browser.get("/sources")
        assert listed.status_code == 200
        assert "amqp://hh:********@127.0.0.1:1/" in listed.text and "s3cret" not in listed.text
        assert "the body is not JSON: x" in listed.text
        detail = await browser.get(f"/sources/{source['id']}")
        assert detail.status_code == 200
        assert "&lt;b&gt;" in detail.text and "m1" in detail.text


async def test_an_unreachable_broker_is_shown_as_the_sources_last_error(hookhub: Hookhub) -> None:
    created = await hookhub.admin.post(
        "/sources", json={"name": "away", "url": "redis://127.0.0.1:1/0", "stream": "s"}
    )
    assert created.status_code == 201, created.text
    source_id = created.json()["id"]

    async def shown() -> bool:
        answer = (await hookhub.reader.get(f"/sources/{source_id}")).json()
        return bool(answer["last_error"])

    await until(shown, timeout=30)
    answer = (await hookhub.reader.get(f"/sources/{source_id}")).json()
    assert "Connect" in answer["last_error"] or "connect" in answer["last_error"]
    assert answer["failures"] == 0  # a connection problem is no refused message
    assert (await hookhub.reader.get("/sources")).status_code == 200  # the server carries on


PLUGINS = Path(__file__).parent.parent / "support" / "plugins"


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test broker plugin (tests/support/plugins, `memory://`) on sys.path, as if installed."""
    monkeypatch.syspath_prepend(str(PLUGINS))


@pytest.mark.usefixtures("plugin")
async def test_a_broker_plugin_is_found_by_its_url_scheme(hookhub: Hookhub, store: Store) -> None:
    from hookhub_test_source import TOPICS  # type: ignore[import-not-found]

    topic = uuid.uuid4().hex
    created = await hookhub.admin.post(
        "/sources", json={"name": "plugged", "url": "memory://", "topic": topic}
    )
    assert created.status_code == 201, created.text
    for number in range(3):
        TOPICS[topic].put_nowait(event(number))

    async def stored_all() -> bool:
        return await stored(store, created.json()["id"]) == 3

    await until(stored_all, timeout=30)


async def test_a_source_reconnects_when_its_broker_drops_the_connection(
    hookhub: Hookhub, store: Store
) -> None:
    require("redis")
    proxy = await CutRelay(require_broker("redis")).start()
    try:
        async with redis_stream() as (stream, publish):
            created = await hookhub.admin.post(
                "/sources",
                json={
                    "name": "flaky",
                    "url": f"redis://127.0.0.1:{proxy.port}/0",
                    "stream": stream,
                },
            )
            source_id = created.json()["id"]
            await publish([event(n) for n in range(200)])

            async def some() -> bool:
                return await stored(store, source_id) > 0

            await until(some, timeout=30)
            proxy.cut()  # the broker goes away mid-stream
            await publish([event(n) for n in range(200, 400)])

            async def all_in() -> bool:
                return await stored(store, source_id) == 400

            await until(all_in, timeout=60)
            shown = (await hookhub.reader.get(f"/sources/{source_id}")).json()
            # The drop is recorded in `last_error` when the consumer sees it; redis-py may also
            # reconnect by itself within a call, and then nothing is left to record.
            assert shown["failures"] == 0
    finally:
        await proxy.stop()


@pytest.mark.parametrize("broker", ["redis", "amqp", "nats"])
async def test_two_workers_share_a_source_each_message_handled_once(
    broker: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(broker)
    url, field, channel = ADDRESSES[broker]
    handled: dict[str, int] = {"w1": 0, "w2": 0}
    original = runner_module._Consumer.handle

    async def counting(self: Any, messages: Any) -> None:
        await original(self, messages)
        handled[self.runner.consumer] += len(messages)

    monkeypatch.setattr(runner_module._Consumer, "handle", counting)
    async with channel() as (address, publish):
        spec = sources_api.SourceIn.model_validate({"name": "shared", "url": url, field: address})
        source = await sources_api.create(store, spec)
        stop = asyncio.Event()
        workers = [
            asyncio.create_task(SourceRunner(store, consumer=name, reload_interval=0.2).run(stop))
            for name in handled
        ]
        try:
            for start in range(0, COUNT, 100):
                await publish([event(n) for n in range(start, start + 100)])

            async def all_in() -> bool:
                return await stored(store, source["id"]) == COUNT

            await until(all_in)
        finally:
            stop.set()
            await asyncio.gather(*workers)
    print(f"two workers ({broker}): {handled}")
    assert sum(handled.values()) == COUNT  # none handled twice


async def test_an_event_the_database_refuses_is_recorded_and_the_others_stored(
    hookhub: Hookhub, store: Store
) -> None:
    require("redis")
    async with redis_stream() as (stream, publish):
        created = await hookhub.admin.post(
            "/sources", json={"name": "nul", "url": "redis://127.0.0.1:6379/0", "stream": stream}
        )
        source_id = created.json()["id"]
        nul = b'{"object_type": "a\\u0000b", "event": "x"}'  # PostgreSQL text holds no NUL
        await publish([event(1), nul, event(2)])
        postgresql = store.dialect == "postgresql"

        async def settled() -> bool:
            answer = (await hookhub.reader.get(f"/sources/{source_id}")).json()
            count = await stored(store, source_id)
            return count == 2 and answer["failures"] == 1 if postgresql else count == 3

        await until(settled, timeout=30)
        if postgresql:
            answer = (await hookhub.reader.get(f"/sources/{source_id}")).json()
            assert answer["last_error"].startswith("the database refused the event: ")


async def test_refused_messages_are_purged_with_the_retention(store: Store) -> None:
    spec = {"name": "old", "url": "redis://127.0.0.1:1/0", "stream": "s", "enabled": False}
    source = await sources_api.create(store, sources_api.SourceIn.model_validate(spec))
    now = time.time()
    rows = [
        {"id": "sfl_0", "message_id": "m0", "error": "e", "body": "", "created_at": now - 40 * DAY},
        {"id": "sfl_1", "message_id": "m1", "error": "e", "body": "", "created_at": now},
    ]
    await store.sources.record_failures(source["id"], rows)
    assert await retention.purge_once(store, 30) == 1
    left = await store.sources.failures(source["id"], None, 10)
    assert [row["id"] for row in left] == ["sfl_1"]
    assert (await store.get(sources, source["id"]))["failures"] == 2  # the count stays


async def test_sources_list_on_the_database_and_through_the_api(
    hookhub: Hookhub, database_url: str
) -> None:
    body = {"name": "jobs", "url": "amqp://hh:s3cret@127.0.0.1:1/", "queue": "q", "enabled": False}
    assert (await hookhub.admin.post("/sources", json=body)).status_code == 201
    local = await asyncio.to_thread(run, "sources", "list", "--json", "--database", database_url)
    [found] = lines(local)
    assert (found["name"], found["queue"]) == ("jobs", "q")
    assert found["url"] == "amqp://hh:********@127.0.0.1:1/"
    remote = await asyncio.to_thread(run, "sources", "list", "--json", env=through(hookhub))
    assert lines(remote) == [found]
    table = await asyncio.to_thread(run, "sources", "list", env=through(hookhub))
    assert table.exit_code == 0, table.output
    assert "queue q" in table.stdout and "s3cret" not in table.stdout
