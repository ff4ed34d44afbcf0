"""A real `hookhub worker` with `HOOKHUB_METRICS_PORT` and `HOOKHUB_LOG_FORMAT=json`: its own
/metrics server, and log lines that are each one JSON object."""

from __future__ import annotations

import json
import subprocess
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST

from tests.acceptance.test_cli import (
    HOOKHUB,
    _all_succeeded,
    _env,
    _process,
    _ready,
    _setup,
    _token,
)
from tests.support.metrics import samples, value
from tests.support.receiver import Receiver
from tests.support.server import free_port

COUNT = 20


async def test_worker_serves_metrics_and_logs_json_lines(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"sqlite:///{tmp_path / 'h.db'}"
    token = _token(database)
    port = str(free_port())
    url = f"http://127.0.0.1:{port}"
    metrics_port = free_port()
    with _process(["serve", "--port", port, "--no-workers"], database) as api_node:
        await _ready(url, api_node)
        api = await _setup(url, token, receiver, COUNT)
        [webhook] = (await api.get("/webhooks")).json()["items"]
        # Read by the worker started next (the API node above is already running).
        monkeypatch.setenv("HOOKHUB_METRICS_PORT", str(metrics_port))
        monkeypatch.setenv("HOOKHUB_LOG_FORMAT", "json")
        monkeypatch.setenv("HOOKHUB_LOG_LEVEL", "DEBUG")
        with _process(["worker"], database) as worker:
            assert worker.stderr is not None
            lines: list[bytes] = []
            # Drained as it comes: a full pipe would stall the worker's logging.
            drain = threading.Thread(target=lambda: lines.extend(worker.stderr or ()))
            drain.start()
            await _all_succeeded(api, COUNT)
            async with httpx.AsyncClient() as client:
                scraped = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
            worker.terminate()
            assert worker.wait(15) == 0
            drain.join(15)
        await api.aclose()

    assert scraped.status_code == 200
    assert scraped.headers["content-type"] == CONTENT_TYPE_LATEST
    found = samples(scraped.text)
    deliveries = "hookhub_deliveries_total"
    assert value(found, deliveries, webhook=webhook["id"], outcome="succeeded") == COUNT
    assert value(found, "hookhub_attempt_duration_seconds_count", outcome="succeeded") == COUNT
    assert value(found, "hookhub_queue_depth", state="pending") == 0

    logged: list[dict[str, Any]] = [json.loads(line) for line in lines if line.strip()]
    assert len(logged) == len([line for line in lines if line.strip()])
    for entry in logged:
        assert {"time", "level", "logger", "message"} <= entry.keys()
        assert datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).tzinfo is not None
    messages = [entry["message"] for entry in logged]
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in messages
    assert "worker stopped" in messages
    attempts = [entry for entry in logged if entry["logger"] == "hookhub.dispatcher"]
    delivered = {request.headers["webhook-id"] for request in receiver.requests}
    assert {entry["delivery_id"] for entry in attempts} == delivered
    assert {entry["event_id"] for entry in attempts} == {f"e{i}" for i in range(COUNT)}
    assert {entry["webhook_id"] for entry in attempts} == {webhook["id"]}
    assert {entry["level"] for entry in attempts} == {"DEBUG"}


def test_an_unknown_log_format_stops_the_command(tmp_path: Path) -> None:
    env = {**_env(f"sqlite:///{tmp_path / 'h.db'}"), "HOOKHUB_LOG_FORMAT": "xml"}
    done = subprocess.run(
        [*HOOKHUB, "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: HOOKHUB_LOG_FORMAT must be one of text, json, got 'xml'"
