"""Broker destinations: hookhub vs a bare client publish loop, same broker, same run.

    .venv/bin/python benchmarks/destinations.py [--count 5000] [--concurrency 100]
        [--brokers amqp,nats,redis,mqtt] [--repeat 1] [--no-in-process] [--json]

For each broker on 127.0.0.1 (RabbitMQ 5672, NATS JetStream 4222, Redis 6379, Mosquitto 1883),
each round has four phases, each with names (queue, subject, stream, topic) of its own:

1. The bare loop: `count` messages of a ~300-byte body with the three signature headers,
   published by the broker's client library alone, `concurrency` at a time, each awaiting the
   broker's ack: what a competent user writes for the guarantees hookhub gives. aio-pika with
   publisher confirms and persistent messages; nats-py's JetStream publish (awaits the stream's
   ack); redis-py XADD with MAXLEN ~ 100000; aiomqtt QoS 1 (awaits the PUBACK). One connection.
   For MQTT the subscriber that counts phase 2's messages takes these too: its CPU competes
   with the bare loop as with hookhub.
2. Through the doors (the headline figure): an API process (`serve --no-workers`) takes `count`
   events through `POST /api/v1/events` while the webhook is disabled; one `hookhub worker`
   process is started; the clock runs from enabling the webhook until the broker holds every
   message (RabbitMQ's queue depth, the JetStream stream's message count, XLEN; for MQTT, which
   keeps no messages, a QoS 1 subscriber in this process counts them), polled every POLL
   seconds. The worker renders the body template and routing target, signs, publishes over its
   pooled connection, awaits each ack and records each attempt; the database must then hold one
   succeeded delivery and one attempt per event. Also reported: the worker's CPU per delivery.
3. In-process (profiling): the same backlog ingested in this process, drained by a Dispatcher
   here (`Dispatcher.drain()`), the figure to profile with py-spy (`--no-in-process`: skipped).
4. The durable path alone (skipped with phase 3): the same drain through a sender that
   acknowledges every message at once and sends nothing, i.e. claim, render, sign and record
   the attempt and the outcome: D µs of CPU per delivery. With the bare loop's P µs per
   message, P / (D + P) is the best ratio a process that also publishes as the bare loop does
   can reach on a busy machine (each process gets about a core's share: the ratio is the
   bare loop's CPU per message over hookhub's per delivery); reported as the ceiling.

The figure is phase 2's deliveries/s over phase 1's messages/s (bar 0.5x), the median of
`--repeat` rounds. A broker that is not reachable is reported and left out.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import aiomqtt
import nats
import orjson
import redis.asyncio as redis

import outbound
from hookhub.db.store import Store
from hookhub.db.tables import rules, webhooks
from hookhub.migrations import upgrade_async
from hookhub.outbound.client import Outcome, Sender
from hookhub.outbound.request import OutboundRequest
from inbound import _hookhub_main, _run_loop, server
from worker_process import post_events, workers_cpu

HOST = "127.0.0.1"
PORTS = {"amqp": 5672, "nats": 4222, "redis": 6379, "mqtt": 1883}
BAR = 0.5  # hookhub's deliveries/s over the bare loop's messages/s
POLL = 0.02  # seconds between looks at how many messages the broker holds (each a call to it)
PHASES = ("door", "proc")  # through the doors, in-process: each publishes to its own target


@dataclass
class Figures:
    count: int
    concurrency: int
    brokers: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    ratio: float = 0.0  # the lowest broker's ratio: what run_all judges


class Broker:
    """One broker in the benchmark: names unique to the run, a bare publish, what it holds."""

    name: str
    url: str

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:10]

    def destination(self, phase: str) -> dict[str, Any]:
        """The webhook's `destination` for `phase` (a target of its own)."""
        raise NotImplementedError

    async def setup(self) -> None:
        return None

    async def publisher(self) -> Callable[[bytes, dict[str, str]], Awaitable[None]]:
        """A function publishing one message and awaiting its ack."""
        raise NotImplementedError

    async def held(self, phase: str) -> int:
        """How many of hookhub's messages of `phase` the broker holds (or its consumer got)."""
        raise NotImplementedError

    async def bare_taken(self, count: int) -> None:
        """Wait, after the bare loop, until whatever consumes its messages has them all."""
        return None

    async def teardown(self) -> None:
        return None


class Amqp(Broker):
    name, url = "amqp", f"amqp://guest:guest@{HOST}:5672/"

    def destination(self, phase: str) -> dict[str, Any]:
        key = f"bench-{self.tag}-{phase}.{{{{ event }}}}"
        return {"type": "amqp", "exchange": "", "routing_key": key}

    async def setup(self) -> None:
        self.admin = await aio_pika.connect(self.url)
        channel = await self.admin.channel()
        self.bare_queue = await channel.declare_queue(f"bare-{self.tag}")
        self.queues = {
            phase: await channel.declare_queue(f"bench-{self.tag}-{phase}.updated")
            for phase in PHASES
        }

    async def publisher(self) -> Callable[[bytes, dict[str, str]], Awaitable[None]]:
        self.connection = await aio_pika.connect(self.url)
        channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange, key = channel.default_exchange, f"bare-{self.tag}"

        async def publish(body: bytes, headers: dict[str, str]) -> None:
            message = aio_pika.Message(body, headers=dict(headers), delivery_mode=2)
            await exchange.publish(message, key)

        return publish

    async def held(self, phase: str) -> int:
        declared = await self.queues[phase].declare()
        return int(declared.message_count or 0)

    async def teardown(self) -> None:
        await self.connection.close()
        for queue in (self.bare_queue, *self.queues.values()):
            await queue.delete(if_unused=False, if_empty=False)
        await self.admin.close()


class Nats(Broker):
    name, url = "nats", f"nats://{HOST}:4222"

    def destination(self, phase: str) -> dict[str, Any]:
        return {"type": "nats", "subject": f"bench.{self.tag}.{phase}.{{{{ event }}}}"}

    def streams(self) -> dict[str, str]:
        return {f"BENCH_{self.tag}_{phase}": f"bench.{self.tag}.{phase}.>" for phase in PHASES}

    async def setup(self) -> None:
        self.admin = await nats.connect(self.url)
        self.js = self.admin.jetstream()
        for stream, subjects in {**self.streams(), f"BARE_{self.tag}": f"bare.{self.tag}"}.items():
            await self.js.add_stream(name=stream, subjects=[subjects])

    async def publisher(self) -> Callable[[bytes, dict[str, str]], Awaitable[None]]:
        self.client = await nats.connect(self.url)
        js, subject = self.client.jetstream(), f"bare.{self.tag}"

        async def publish(body: bytes, headers: dict[str, str]) -> None:
            await js.publish(subject, body, headers=headers)

        return publish

    async def held(self, phase: str) -> int:
        return int((await self.js.stream_info(f"BENCH_{self.tag}_{phase}")).state.messages)

    async def teardown(self) -> None:
        await self.client.close()
        for stream in (*self.streams(), f"BARE_{self.tag}"):
            await self.js.delete_stream(stream)
        await self.admin.close()


class Redis(Broker):
    name, url = "redis", f"redis://{HOST}:6379/0"

    def destination(self, phase: str) -> dict[str, Any]:
        return {"type": "redis_stream", "stream": f"bench:{self.tag}:{phase}:{{{{ event }}}}"}

    async def publisher(self) -> Callable[[bytes, dict[str, str]], Awaitable[None]]:
        self.client = redis.Redis.from_url(self.url)
        key = f"bare:{self.tag}"

        async def publish(body: bytes, headers: dict[str, str]) -> None:
            fields: dict[Any, Any] = {**headers, "body": body}
            await self.client.xadd(key, fields, maxlen=100000, approximate=True)

        return publish

    async def held(self, phase: str) -> int:
        return int(await self.client.xlen(f"bench:{self.tag}:{phase}:updated"))

    async def teardown(self) -> None:
        streams = [f"bench:{self.tag}:{phase}:updated" for phase in PHASES]
        await self.client.delete(f"bare:{self.tag}", *streams)
        await self.client.aclose()


class Mqtt(Broker):
    name, url = "mqtt", f"mqtt://{HOST}:1883"

    def destination(self, phase: str) -> dict[str, Any]:
        return {"type": "mqtt", "topic": f"bench/{self.tag}/{phase}/{{{{ event }}}}", "qos": 1}

    def client(self) -> aiomqtt.Client:
        quiet = logging.getLogger("bench.mqtt")
        quiet.setLevel(logging.ERROR)  # aiomqtt warns of every publish beyond ten in flight
        return aiomqtt.Client(
            HOST,
            1883,
            protocol=aiomqtt.ProtocolVersion.V5,
            max_inflight_messages=1000,
            logger=quiet,
        )

    async def setup(self) -> None:
        # MQTT keeps no messages: a QoS 1 subscriber counts what hookhub's phases publish, in a
        # process of its own, so that it keeps up with a busy benchmark loop (Mosquitto drops
        # what a slow subscriber has not taken beyond its queue of 1,000). It takes the bare
        # loop's messages too: its CPU then competes with the bare loop as with hookhub.
        ctx = multiprocessing.get_context("spawn")
        self.got = {phase: ctx.RawValue("q", 0) for phase in (*PHASES, "bare")}
        ready = ctx.Event()
        self.subscriber = ctx.Process(
            target=_count_mqtt, args=(self.tag, self.got, ready), daemon=True
        )
        self.subscriber.start()
        if not await asyncio.to_thread(ready.wait, 30):
            raise outbound.BenchError("the MQTT subscriber did not subscribe within 30 s")

    async def publisher(self) -> Callable[[bytes, dict[str, str]], Awaitable[None]]:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.publishing = self.client()
        await self.publishing.__aenter__()
        topic = f"bench/{self.tag}/bare"

        async def publish(body: bytes, headers: dict[str, str]) -> None:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.UserProperty = list(headers.items())
            await self.publishing.publish(topic, body, qos=1, properties=properties)

        return publish

    async def held(self, phase: str) -> int:
        return int(self.got[phase].value)

    async def bare_taken(self, count: int) -> None:
        while True:  # a counter in the subscriber's process: polled, as `held` is
            if await self.held("bare") >= count:
                return
            await asyncio.sleep(POLL)

    async def teardown(self) -> None:
        await self.publishing.__aexit__(None, None, None)
        self.subscriber.terminate()
        self.subscriber.join(5)


def _count_mqtt(tag: str, got: dict[str, Any], ready: Any) -> None:
    """The MQTT subscriber's process: counts each phase's messages in `got` (single writer)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    def connected(client: Any, *_: Any) -> None:
        client.subscribe(f"bench/{tag}/#", qos=1)

    def message(_client: Any, _data: Any, received: Any) -> None:
        got[received.topic.split("/")[2]].value += 1

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_connect = connected
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = message
    client.max_inflight_messages_set(1000)
    client.connect(HOST, 1883)
    client.loop_forever()


class Held:
    """A broker as the worker-process drain's receiver: `count` is what it holds of a phase,
    kept current by polling it every POLL seconds."""

    name = "broker"
    url = ""

    def __init__(self, broker: Broker, phase: str) -> None:
        self.broker, self.phase = broker, phase
        self.count = 0
        self._polling = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Held:
        self.count = await self.broker.held(self.phase)
        self._polling = True
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *_: object) -> None:
        # Stopped between two polls, not cancelled: an AMQP channel whose call is cancelled
        # midway is closed.
        self._polling = False
        if self._task is not None:
            await self._task
        self.count = await self.broker.held(self.phase)

    async def _poll(self) -> None:
        while self._polling:
            await asyncio.sleep(POLL)
            self.count = await self.broker.held(self.phase)

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


class Acking(Sender):
    """Acknowledges every message at once and sends nothing: a delivery's durable path alone
    (claim, render, sign, record the attempt and the outcome), without its publish."""

    async def send(self, request: OutboundRequest) -> Outcome:
        await asyncio.sleep(0)  # as any publish does, it lets the loop run other deliveries
        return Outcome(status=None, body=ACKED, duration_ms=0.0, confirmed=True)


ACKED = b"acknowledged at once (the durable path alone: nothing was sent)"
BROKERS: dict[str, type[Broker]] = {"amqp": Amqp, "nats": Nats, "redis": Redis, "mqtt": Mqtt}


def reachable(name: str) -> str | None:
    """Why the broker cannot be used, or None."""
    try:
        socket.create_connection((HOST, PORTS[name]), timeout=2).close()
    except OSError as exc:
        return f"not reachable at {HOST}:{PORTS[name]} ({exc})"
    return None


async def bare_loop(
    publish: Callable[[bytes, dict[str, str]], Awaitable[None]], count: int, concurrency: int
) -> tuple[float, float]:
    """Seconds and CPU seconds to publish `count` messages, `concurrency` awaiting their ack
    at a time."""
    body = outbound.bare_body()
    headers = {
        "webhook-id": "dlv_01HBENCHBENCHBENCHBENCHBENC",
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": "v1,bWVzc2FnZS1zaWduYXR1cmUtcGxhY2Vob2xkZXI=",
    }
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await publish(body, headers)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, time.process_time() - cpu


async def webhook_to(store: Store, broker: Broker, phase: str) -> str:
    """A templated, signed webhook publishing to `broker`'s target for `phase`, and a rule
    sending it the benchmark's events; the webhook's id."""
    row = {**outbound.webhook_row(broker.url), "destination": broker.destination(phase)}
    webhook = await store.insert(webhooks, row)
    await store.insert(rules, outbound.rule_row(webhook["id"]))
    return str(webhook["id"])


async def through_the_doors(
    broker: Broker, count: int, concurrency: int
) -> tuple[float, float | None]:
    """Seconds for a `hookhub worker` process to deliver `count` events posted through
    `POST /api/v1/events`, counted at the broker; and the worker's CPU seconds (or None)."""
    async with outbound.fresh_database(None) as url:
        await upgrade_async(url)
        store = Store.open(url)
        try:
            webhook_id = await webhook_to(store, broker, "door")
            _, token = await store.create_token("bench", "write")
            with server(_hookhub_main, url) as api:

                async def feed(n: int) -> None:
                    await outbound.bounded("POST /api/v1/events", post_events(api.port, token, n))

                args = argparse.Namespace(count=count, concurrency=concurrency)
                async with Held(broker, "door") as held:
                    drained = await outbound.processes_drain(
                        store, url, webhook_id, held, args, 1, feed=feed, meter=workers_cpu
                    )
        finally:
            await store.close()
    return drained.seconds, drained.metered


async def in_process(
    broker: Broker, count: int, concurrency: int, sender: Sender | None = None
) -> tuple[float, float]:
    """Seconds and CPU seconds for a Dispatcher in this process to deliver `count` events
    (through `sender`; by default the real one, whose messages the broker must then hold)."""
    async with outbound.fresh_database(None) as url:
        await upgrade_async(url)
        store = Store.open(url)
        try:
            await webhook_to(store, broker, "proc")
            await outbound.ingest_all(store, count)
            elapsed, cpu = await outbound.dispatch_all(store, url, concurrency, sender)
            await outbound.verify_database(store, count)
        finally:
            await store.close()
    if sender is None:
        await outbound.bounded(f"{broker.name} holding every message", holding(broker, count))
    return elapsed, cpu


async def holding(broker: Broker, count: int) -> None:
    """Wait until the broker holds the in-process phase's `count` messages (an MQTT subscriber
    receives them a little after their acks); BenchError if it ever holds more."""
    while (held := await broker.held("proc")) != count:
        if held > count:
            raise outbound.BenchError(f"{broker.name}: the broker holds {held} of {count}")
        await asyncio.sleep(POLL)


async def one_round(args: argparse.Namespace, name: str) -> dict[str, float | None]:
    """The phases against broker `name`, each with names of its own; the figures."""
    count, concurrency = args.count, args.concurrency
    broker = BROKERS[name]()
    await broker.setup()
    try:
        publish = await broker.publisher()
        bare, bare_cpu = await outbound.bounded(
            f"bare {name}", bare_loop(publish, count, concurrency)
        )
        await outbound.bounded(f"bare {name} taken", broker.bare_taken(count))
        door, door_cpu = await outbound.bounded(
            f"worker process {name}", through_the_doors(broker, count, concurrency)
        )
        figures: dict[str, float | None] = {
            "bare_per_s": count / bare,
            "bare_cpu_us": bare_cpu / count * 1e6,
            "worker_per_s": count / door,
            "worker_cpu_us": None if door_cpu is None else door_cpu / count * 1e6,
            "ratio": bare / door,
        }
        if args.in_process:
            elapsed, cpu = await outbound.bounded(
                f"in-process {name}", in_process(broker, count, concurrency)
            )
            _, durable = await outbound.bounded(
                f"durable path {name}", in_process(broker, count, concurrency, Acking())
            )
            durable_us, bare_us = durable / count * 1e6, bare_cpu / count * 1e6
            figures.update(
                in_process_per_s=count / elapsed,
                in_process_cpu_us=cpu / count * 1e6,
                in_process_ratio=bare / elapsed,
                durable_cpu_us=durable_us,
                ceiling=bare_us / (durable_us + bare_us),
            )
    finally:
        await broker.teardown()
    return figures


async def run(args: argparse.Namespace) -> Figures:
    figures = Figures(args.count, args.concurrency)
    for name in args.brokers:
        problem = reachable(name)
        if problem:
            figures.skipped[name] = problem
            continue
        # On a shared machine one round can be off by a factor of two: the median round counts.
        rounds = sorted(
            [await one_round(args, name) for _ in range(args.repeat)],
            key=lambda figures: figures["ratio"] or 0.0,
        )
        figures.brokers[name] = {
            **rounds[(len(rounds) - 1) // 2],
            "ratios": [round(r["ratio"] or 0.0, 2) for r in rounds],
            "in_process_ratios": [round(r.get("in_process_ratio") or 0.0, 2) for r in rounds],
        }
    if figures.brokers:
        figures.ratio = min(b["ratio"] for b in figures.brokers.values())
    return figures


def cpu(us: float | None) -> str:
    return "" if us is None else f" ({us:.0f} µs CPU each)"


def describe(figures: Figures) -> str:
    lines = [
        f"{figures.count} messages, {figures.concurrency} in flight, SQLite, "
        f"{os.cpu_count()} cores, load {' '.join(f'{n:.2f}' for n in os.getloadavg())}"
    ]
    for name, b in figures.brokers.items():
        lines.append(
            f"  {name:6} hookhub worker process (events through POST /api/v1/events) "
            f"{b['worker_per_s']:7.0f} deliveries/s{cpu(b['worker_cpu_us'])} | bare client "
            f"{b['bare_per_s']:7.0f}/s{cpu(b['bare_cpu_us'])} | ratio {b['ratio']:.2f} "
            f"(rounds: {b['ratios']}; bar ≥ {BAR}x)"
        )
        if "in_process_per_s" in b:
            lines.append(
                f"  {'':6} in-process (profiling): Dispatcher.drain() "
                f"{b['in_process_per_s']:7.0f} deliveries/s{cpu(b['in_process_cpu_us'])} "
                f"| ratio {b['in_process_ratio']:.2f} (rounds: {b['in_process_ratios']})"
            )
            lines.append(
                f"  {'':6} durable path alone (a sender acking at once): "
                f"D = {b['durable_cpu_us']:.0f} µs CPU each | bare P = {b['bare_cpu_us']:.0f} µs "
                f"| ceiling P/(D+P) = {b['ceiling']:.2f}"
            )
    lines += [f"  {name:6} skipped: {why}" for name, why in figures.skipped.items()]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=outbound.positive, default=5000)
    parser.add_argument("--concurrency", type=outbound.positive, default=100)
    parser.add_argument("--brokers", default=",".join(BROKERS))
    parser.add_argument("--repeat", type=outbound.positive, default=1, help="rounds per broker")
    parser.add_argument(
        "--no-in-process",
        dest="in_process",
        action="store_false",
        help="skip the in-process (profiling) phase",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.brokers = [b.strip() for b in args.brokers.split(",") if b.strip()]
    unknown = [b for b in args.brokers if b not in BROKERS]
    if unknown:
        parser.error(f"unknown broker {unknown[0]!r}; known: {', '.join(BROKERS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        figures = _run_loop(run(args))
    except outbound.BenchError as exc:
        return outbound.failed(exc)
    if args.json:
        print(orjson.dumps(figures.__dict__).decode())
    else:
        print(describe(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
