"""Queued runs give way to a burst of requests (`Traffic.gap`), for at most `max_wait`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import pytest

from hookhub.errors import ConfigError
from hookhub.outbound.lease_worker import Held, Leased, LeaseWorker
from hookhub.settings import Settings
from hookhub.traffic import Traffic, thread_busy


class Burst:
    """Requests answered at a high rate while on, with the loop's thread always busy (a fake
    busy clock that runs with the wall clock while on and stands still while off)."""

    def __init__(self, traffic: Traffic, rate: int = 25_000) -> None:
        self.traffic = traffic
        self.rate = rate  # requests answered per second while on
        self.on = True
        self._busy = 0.0
        self._since = time.monotonic()
        traffic._busy = self.busy

    def busy(self) -> float:
        now = time.monotonic()
        if self.on:
            self._busy += now - self._since
            # Answered meanwhile, whenever this task last ran: a loaded machine that delays
            # `run` must not make a window look idle.
            for _ in range(int((now - self._since) * self.rate)):
                self.traffic.answered()
        self._since = now
        return self._busy

    async def run(self) -> None:
        while self.on:
            for _ in range(50):
                self.traffic.answered()
            await asyncio.sleep(0.002)


async def test_an_idle_process_lets_work_through_at_once() -> None:
    traffic = Traffic(max_wait=60.0)
    await asyncio.wait_for(traffic.gap(), 5)
    assert not traffic.saturated()


async def test_a_burst_holds_work_back_until_max_wait() -> None:
    traffic = Traffic(max_wait=0.3)
    burst = Burst(traffic)
    task = asyncio.create_task(burst.run())
    try:
        await asyncio.sleep(0.05)  # a window of the burst
        started = time.monotonic()
        await asyncio.wait_for(traffic.gap(), 10)
        assert time.monotonic() - started >= 0.3
    finally:
        burst.on = False
        await task


async def test_work_goes_on_once_the_burst_ends() -> None:
    traffic = Traffic(max_wait=60.0)
    burst = Burst(traffic)
    task = asyncio.create_task(burst.run())
    await asyncio.sleep(0.05)
    assert traffic.saturated()
    waiting = asyncio.create_task(traffic.gap())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    burst.on = False
    await task
    await asyncio.wait_for(waiting, 10)  # well before the 60 s


async def test_a_busy_loop_without_requests_is_not_saturated() -> None:
    # The runner's own work keeps the loop busy; with no requests answered it goes on.
    traffic = Traffic(max_wait=60.0)
    Burst(traffic, rate=0)
    await asyncio.sleep(0.05)
    assert not traffic.saturated()


def test_the_busy_clock_counts_this_thread() -> None:
    busy = thread_busy()
    before = busy()
    deadline = time.monotonic() + 0.05
    while time.monotonic() < deadline:
        pass
    assert busy() - before > 0.01


class Recorder(LeaseWorker):
    """A lease worker that records its gate and claims, and stops after one claim."""

    def __init__(self, stop: asyncio.Event) -> None:
        super().__init__(
            concurrency=2,
            batch=2,
            poll_interval=60.0,
            noun="items",
            log=logging.getLogger("test"),
            gate=self.gate_step,
        )
        self.stop = stop
        self.steps: list[str] = []

    async def gate_step(self) -> None:
        self.steps.append("gate")

    async def _claim(self, wanted: int) -> tuple[Sequence[Leased], bool]:
        self.steps.append("claim")
        self.stop.set()
        self.wake()  # out of the poll wait, to see the stop
        return [], False

    async def _release(self, abandoned: Sequence[Held]) -> int:
        return 0


async def test_a_lease_worker_passes_its_gate_before_each_claim() -> None:
    stop = asyncio.Event()
    worker = Recorder(stop)
    await asyncio.wait_for(worker.run(stop), 10)
    assert worker.steps == ["gate", "claim"]


def test_run_yield_setting() -> None:
    assert Settings.from_env({}).run_yield == 1.0
    assert Settings.from_env({"HOOKHUB_RUN_YIELD": "0"}).run_yield == 0.0
    with pytest.raises(ConfigError, match="HOOKHUB_RUN_YIELD must be a number of seconds 0 or"):
        Settings.from_env({"HOOKHUB_RUN_YIELD": "-1"})
