"""The OpenAPI schema against the running API: schemathesis generates requests from the schema
against a real `hookhub serve` and runs every check it has (`--checks all`): no 5xx, every answer
documented with its status, body and headers, schema-valid input accepted and schema-violating
input refused, 405s with the right `Allow`, a token required. Bounded: a fixed seed and a fixed
number of examples per operation and phase (examples, coverage, fuzzing, stateful). In the
first three phases the path parameters name real objects (a webhook, a rule, a workflow, a
delivery, a run, an event type), so the operations on one object are tried on one that exists;
the stateful phase runs on its own, on the objects it creates.

The few rules no JSON schema can say (a rule's webhook must exist, templates must compile, a
workflow's graph...) are listed, with the operations they allow a 422 on, in schemathesis.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.acceptance.test_cli import _process, _token
from tests.support import WAIT
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "schemathesis.toml"
# Per operation and phase: about 5,000 requests, under two minutes on an idle 2-core machine.
EXAMPLES = 25
SEED = 20261123


def test_the_api_conforms_to_its_openapi_schema(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'fuzz.db'}"
    token = _token(database)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # `POST /webhooks/{id}/test` sends at once: nothing generated leaves the machine.
    with _process(
        ["serve", "--port", str(port)], database, HOOKHUB_OUTBOUND_DENY="0.0.0.0/0,::/0"
    ) as server:
        _wait(url)
        with_objects = tmp_path / "schemathesis.toml"
        with_objects.write_text(CONFIG.read_text() + _parameters(url, token))
        runs = [
            _schemathesis(url, token, with_objects, "examples,coverage,fuzzing", tmp_path),
            # The stateful phase follows the links from what it creates: no fixed ids.
            _schemathesis(url, token, CONFIG, "stateful", tmp_path),
        ]
        assert server.poll() is None, "the server died under fuzzing"
    for run in runs:
        assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
        assert " passed" in run.stdout
    phases = runs[0].stdout + runs[1].stdout
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in phases, phases[-3000:]


def _schemathesis(
    url: str, token: str, config: Path, phases: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "--config-file",
            str(config),
            "run",
            f"{url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--phases",
            phases,
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--generation-database",
            "none",
        ],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=900,
    )


def _parameters(url: str, token: str) -> str:
    """Config lines naming real objects as the path parameters of every operation but DELETE
    (which keeps generated ids; schemathesis may still reuse ids it has seen and delete one)."""
    client = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"})
    with client:
        webhook = {"name": "w", "url": "http://127.0.0.1:9/hook", "retry": {"max_attempts": 1}}
        webhook_id = client.post("/webhooks", json=webhook).json()["id"]
        rule = client.post("/rules", json={"name": "r", "webhook_id": webhook_id}).json()
        nodes = [{"id": "answer", "type": "response", "body": "ok"}]
        sync = {"name": "f", "start": "answer", "nodes": nodes, "trigger": {"mode": "sync"}}
        workflow = client.post("/workflows", json=sync).json()
        client.post("/event-types", json={"name": "dcim.site.created"})
        client.post("/events", json={"object_type": "dcim.site", "event": "created"})
        httpx.post(workflow["url"], json={})
        for _ in range(100):
            deliveries, runs = (
                client.get(path).json()["items"] for path in ("/deliveries", "/runs")
            )
            if deliveries and runs:
                break
            time.sleep(0.05)
    objects = {
        "webhook_id": webhook_id,
        "rule_id": rule["id"],
        "workflow_id": workflow["id"],
        "delivery_id": deliveries[0]["id"],
        "run_id": runs[0]["id"],
        "name": "dcim.site.created",  # an event type's
    }
    lines = ["", "[[operations]]", 'include-method-regex = "^(GET|POST|PATCH)$"']
    lines += [f'parameters."path.{name}" = "{value}"' for name, value in objects.items()]
    return "\n".join(lines) + "\n"


def _wait(url: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"hookhub did not start at {url}")
