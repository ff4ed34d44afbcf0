"""Hostile input over the whole management API: schemathesis generates requests from the
OpenAPI schema against a real `hookhub serve` and finds no 5xx and no response that breaks the
schema. Bounded: a fixed number of examples per operation."""

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

EXAMPLES = 25  # per operation and phase: about 2,000 requests, half a minute


def test_the_api_answers_generated_requests_without_5xx(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'fuzz.db'}"
    token = _token(database)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _process(["serve", "--port", str(port)], database) as server:
        _wait(url)
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"),
                "run",
                f"{url}/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--max-examples",
                str(EXAMPLES),
                "--seed",
                "20261123",
            ],
            env={**os.environ, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert server.poll() is None, "the server died under fuzzing"
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout


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
