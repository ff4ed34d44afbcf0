"""Config as code and remote operations as a user runs them: `hookhub apply|export`, and the
operation commands against a real `hookhub serve` process with `--url`/`--token`."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import subprocess
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hookhub.config import apply as applying
from hookhub.config.document import load
from hookhub.db.store import Store
from hookhub.migrations import upgrade
from hookhub.services.common import Context
from hookhub.settings import Settings
from tests.acceptance.test_cli import HOOKHUB, _env, _process, _ready
from tests.support.receiver import Receiver, Reply
from tests.support.server import free_port

SECRETS = {
    "HOOKHUB_SECRET_CRM": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "HOOKHUB_SECRET_CRM_AUTH_PASSWORD": "hunter2",
    "HOOKHUB_SECRET_CRM_HEADER_AUTHORIZATION": "Bearer t0ken-in-a-header",
    "HOOKHUB_SECRET_WORKFLOW_GITHUB_TRIGGER_AUTH_SECRET": "gh-s3cret",
}

HOOKS = """\
webhooks:
  - name: crm
    url: "{url}"
    secret: ${{HOOKHUB_SECRET_CRM}}
    headers: |
      Authorization: ${{HOOKHUB_SECRET_CRM_HEADER_AUTHORIZATION}}
      X-Literal: costs $${{price}}
    auth: {{type: basic, username: ops, password: "${{HOOKHUB_SECRET_CRM_AUTH_PASSWORD}}"}}
    retry: {{max_attempts: 1}}
  - name: slack
    url: "{url}slack"
    body_template: |
      {{"text": "{{{{ event }}}} {{{{ data.name }}}}"}}
rules:
  - name: devices-to-crm
    webhook: crm
    object_types: [dcim.device]
    conditions: {{attr: status.value, value: active}}
workflows:
  - name: github
    trigger:
      auth:
        type: hmac
        scheme: github
        secret: ${{HOOKHUB_SECRET_WORKFLOW_GITHUB_TRIGGER_AUTH_SECRET}}
    start: answer
    nodes:
      - id: answer
        type: response
        body: "got {{{{ body.ref }}}}"
"""


def hookhub(
    database: str, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    # Only `serve` and `migrate` create a database; the tests' databases exist first.
    if database.startswith("sqlite:///") and not Path(database[len("sqlite:///") :]).exists():
        upgrade(database)
    return subprocess.run(
        [*HOOKHUB, *args],
        env={**_env(database), **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def plan_of(done: subprocess.CompletedProcess[str]) -> dict[tuple[str, str], str]:
    assert done.returncode == 0, done.stderr
    changes = json.loads(done.stdout)["changes"]
    return {(change["kind"], change["name"]): change["action"] for change in changes}


def write(tmp_path: Path, text: str, name: str = "hooks.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_apply_export_round_trip_is_a_no_op(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'cfg.db'}"
    hooks = write(tmp_path, HOOKS.format(url="http://127.0.0.1:9/"))

    dry = hookhub(database, "apply", "-f", hooks, "--dry-run", **SECRETS)
    assert dry.returncode == 0, dry.stderr
    assert "+ create    webhook  crm" in dry.stdout
    assert "4 to create, 0 to update, 0 to delete, 0 unchanged: dry run" in dry.stdout
    assert plan_of(hookhub(database, "apply", "-f", hooks, "--json", **SECRETS)) == {
        ("webhook", "crm"): "create",
        ("webhook", "slack"): "create",
        ("workflow", "github"): "create",
        ("rule", "devices-to-crm"): "create",
    }

    exported = hookhub(database, "export")
    assert exported.returncode == 0, exported.stderr
    for secret in SECRETS.values():
        assert secret not in exported.stdout
    assert "secret: ${HOOKHUB_SECRET_CRM}" in exported.stdout
    assert "password: ${HOOKHUB_SECRET_CRM_AUTH_PASSWORD}" in exported.stdout
    assert "Authorization: ${HOOKHUB_SECRET_CRM_HEADER_AUTHORIZATION}" in exported.stdout
    assert "X-Literal: costs $${price}" in exported.stdout
    assert "webhook: crm" in exported.stdout

    again = hookhub(database, "apply", "-f", "-", "--dry-run", stdin=exported.stdout, **SECRETS)
    assert again.returncode == 0, again.stderr
    assert "0 to create, 0 to update, 0 to delete, 4 unchanged" in again.stdout
    # Applying it for real changes nothing either, and the export is the same after.
    hookhub(database, "apply", "-f", "-", stdin=exported.stdout, **SECRETS)
    assert hookhub(database, "export").stdout == exported.stdout
    # The original file too is what the database holds.
    assert set(plan_of(hookhub(database, "apply", "-f", hooks, "--json", **SECRETS)).values()) == {
        "unchanged"
    }

    # A secret the environment changes is an update of that field alone.
    changed = hookhub(
        database, "apply", "-f", hooks, **{**SECRETS, "HOOKHUB_SECRET_CRM": "another"}
    )
    assert "~ update    webhook  crm  (secret)" in changed.stdout
    missing = hookhub(database, "apply", "-f", "-", stdin=exported.stdout)
    assert missing.returncode == 2
    assert "webhooks[crm].secret: environment variable HOOKHUB_SECRET_CRM is not set" in (
        missing.stderr
    )


def test_update_and_prune(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'cfg.db'}"
    hookhub(
        database, "apply", "-f", write(tmp_path, HOOKS.format(url="http://127.0.0.1:9/")), **SECRETS
    )
    smaller = """\
webhooks:
  - name: crm
    url: http://127.0.0.1:9/v2
    timeout: 10
rules:
  - name: devices-to-crm
    webhook: crm
"""
    path = write(tmp_path, smaller, "smaller.yaml")
    kept = plan_of(hookhub(database, "apply", "-f", path, "--dry-run", "--json"))
    assert kept == {("webhook", "crm"): "update", ("rule", "devices-to-crm"): "update"}
    dry = hookhub(database, "apply", "-f", path, "--dry-run")
    assert "~ update    webhook  crm  (url, headers, secret, timeout, auth, retry)" in dry.stdout

    pruned = plan_of(hookhub(database, "apply", "-f", path, "--prune", "--json"))
    assert pruned == {
        ("webhook", "crm"): "update",
        ("webhook", "slack"): "delete",
        ("workflow", "github"): "delete",
        ("rule", "devices-to-crm"): "update",
    }
    exported = hookhub(database, "export").stdout
    assert "slack" not in exported and "github" not in exported
    assert "url: http://127.0.0.1:9/v2" in exported and "timeout: 10.0" in exported
    # Nothing left to do.
    assert set(plan_of(hookhub(database, "apply", "-f", path, "--prune", "--json")).values()) == {
        "unchanged"
    }


def test_errors_name_the_file_line_and_field(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'cfg.db'}"
    bad = write(
        tmp_path,
        """\
webhooks:
  - name: crm
    url: http://127.0.0.1:9/
    timeout: 500
    colour: blue
rules:
  - name: r
    webhook: nowhere
    conditions: {attr: status, op: near, value: 1}
workflows:
  - name: w
    start: a
    nodes:
      - id: a
        type: condition
        expression: "{{ true }}"
        then: b
""",
    )
    done = hookhub(database, "apply", "-f", bad)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert f"error: {bad}:4: webhooks[crm].timeout: must be from 0.5 to 120 seconds, got 500" in (
        lines
    )
    assert f"{bad}:5: webhooks[crm].colour: Extra inputs are not permitted" in lines
    assert any(
        line.startswith(f"{bad}:9: rules[r].conditions.op: unknown operator") for line in lines
    )
    assert f"{bad}:17: workflows[w].nodes[0].then: no node with id 'b'" in lines

    dangling = write(tmp_path, "rules:\n  - name: r\n    webhook: nowhere\n", "dangling.yaml")
    done = hookhub(database, "apply", "-f", dangling)
    assert done.returncode == 2
    assert (
        f"{dangling}:3: rules[r].webhook: no webhook named 'nowhere' in the file or the database"
        in done.stderr
    )
    syntax = write(tmp_path, "webhooks:\n  - name: [oops\n", "syntax.yaml")
    done = hookhub(database, "apply", "-f", syntax)
    assert done.returncode == 2 and f"{syntax}:3: yaml:" in done.stderr


def test_apply_warns_about_netbox_event_names(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'cfg.db'}"
    hooks = "webhooks:\n  - name: nb\n    url: http://127.0.0.1:9/\nrules:\n  - name: r\n"
    path = write(tmp_path, hooks + "    webhook: nb\n    event_types: [object_created]\n")
    done = hookhub(database, "apply", "-f", path)
    assert done.returncode == 0, done.stderr
    assert (
        "warning: rules[r]: event type 'object_created' is NetBox's name: it matches events named"
        " 'created'" in done.stderr
    )
    as_json = json.loads(hookhub(database, "apply", "-f", path, "--json").stdout)
    assert as_json["warnings"] == []  # unchanged: nothing written, nothing to warn about


# -- remote mode --------------------------------------------------------------------------------
# Each test starts one server and runs a handful of commands: a CLI process costs seconds on a
# loaded machine, so the set-up is done in-process, conditions are polled through the API (one
# cheap request a try) and the CLI runs once the state it reports is there.

WAIT = 60.0  # seconds: deadline for a condition that holds within a second on a quiet machine
COMMAND_TIMEOUT = 60.0  # seconds one CLI command may take (a second or two on a quiet machine)


def _seed(database: str, receiver_url: str, tmp_path: Path) -> str:
    """The config of HOOKS applied (as `hookhub apply` does) and an admin token."""
    upgrade(database)
    document = load(write(tmp_path, HOOKS.format(url=receiver_url)), environ=SECRETS)

    async def run() -> str:
        store = Store.open(database)
        try:
            ctx = Context(store, Settings(database_url=database))
            await applying.apply(ctx, await applying.plan_for(store, document))
            _, token = await store.create_token("ci", "admin")
            return token
        finally:
            await store.close()

    return asyncio.run(run())


@dataclass
class Remote:
    """A seeded `hookhub serve` and the CLI pointed at it (with no database of its own)."""

    url: str
    token: str
    elsewhere: str

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """A command in remote mode; its database doesn't exist (and mustn't be needed)."""
        remote = {"HOOKHUB_URL": self.url, "HOOKHUB_TOKEN": self.token, **env}
        return subprocess.run(
            [*HOOKHUB, *args],
            env=_env(self.elsewhere, **remote),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )

    def listed(self, *args: str) -> list[dict[str, Any]]:
        done = self.run(*args, "--json")
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    async def until(self, path: str, check: Any) -> Any:
        """GET `path` through the API until `check(answer)` holds."""
        async with asyncio.timeout(WAIT):
            while True:
                found = await asyncio.to_thread(_call, f"{self.url}/api/v1{path}", self.token)
                if check(found):
                    return found
                await asyncio.sleep(0.1)


@asynccontextmanager
async def _remote(tmp_path: Path, receiver: Receiver) -> AsyncIterator[Remote]:
    database = f"sqlite:///{tmp_path / 'remote.db'}"
    token = await asyncio.to_thread(_seed, database, receiver.url, tmp_path)
    url = f"http://127.0.0.1:{free_port()}"
    port = url.rsplit(":", 1)[1]
    with _process(["serve", "--port", port], database) as server:
        await _ready(url, server)
        # The commands get no database: everything goes through the server.
        yield Remote(url, token, f"sqlite:///{tmp_path / 'not-used.db'}")


async def test_remote_lists_send_test_and_refusals(tmp_path: Path, receiver: Receiver) -> None:
    receiver.reply = lambda _: Reply(status=503, body="down")
    async with _remote(tmp_path, receiver) as remote:
        hooks = await asyncio.to_thread(remote.listed, "webhooks", "list")
        assert [hook["name"] for hook in hooks] == ["crm", "slack"]
        assert hooks[0]["secret"] == "********"
        table = await asyncio.to_thread(remote.run, "webhooks", "list")
        assert "crm" in table.stdout and "slack" in table.stdout

        tested = await asyncio.to_thread(remote.run, "send-test", "crm")
        assert tested.returncode == 1
        assert "503" in tested.stdout and "down" in tested.stdout

        refused = await asyncio.to_thread(remote.run, "webhooks", "list", HOOKHUB_TOKEN="hh_no")
        assert refused.returncode == 3 and "refused the token" in refused.stderr
    gone = await asyncio.to_thread(remote.run, "deliveries", "list")
    assert gone.returncode == 3 and f"cannot reach {remote.url}" in gone.stderr


async def test_remote_retry_and_replay(tmp_path: Path, receiver: Receiver) -> None:
    receiver.reply = lambda _: Reply(status=503, body="down")
    async with _remote(tmp_path, receiver) as remote:
        # One event; the webhook's only try fails.
        event = {
            "object_type": "dcim.device",
            "event": "updated",
            "data": {"status": {"value": "active"}},
        }
        posted = await asyncio.to_thread(
            _call, f"{remote.url}/api/v1/events", remote.token, json.dumps(event).encode()
        )
        assert posted["deliveries"] == 1
        await remote.until("/deliveries?status=failed", lambda page: page["items"])
        failed = await asyncio.to_thread(
            remote.listed, "deliveries", "list", "-w", "crm", "--status", "failed"
        )
        assert len(failed) == 1 and failed[0]["last_status_code"] == 503

        receiver.reply = lambda _: Reply(status=200, body="ok")
        retried = await asyncio.to_thread(
            remote.run, "deliveries", "retry", failed[0]["id"], "dlv_nope"
        )
        assert retried.returncode == 2
        assert "1 delivery queued" in retried.stdout
        assert "not retried: dlv_nope: no delivery with id 'dlv_nope'" in retried.stderr
        none_failed = await asyncio.to_thread(
            remote.run, "deliveries", "retry", "--webhook", "crm", "--since", "1h"
        )
        assert none_failed.returncode == 0, none_failed.stderr
        assert "0 deliveries queued" in none_failed.stdout
        replayed = await asyncio.to_thread(
            remote.run, "deliveries", "replay", "-w", "crm", "--since", "1h"
        )
        assert replayed.returncode == 0, replayed.stderr
        assert "1 events" in replayed.stdout and "1 deliveries queued" in replayed.stdout

        await remote.until("/deliveries?status=succeeded", lambda page: len(page["items"]) == 2)
        done = await asyncio.to_thread(remote.listed, "deliveries", "list", "--status", "succeeded")
        assert len(done) == 2


async def test_remote_runs(tmp_path: Path, receiver: Receiver) -> None:
    async with _remote(tmp_path, receiver) as remote:
        workflows = await asyncio.to_thread(_call, f"{remote.url}/api/v1/workflows", remote.token)
        body = b'{"ref": "main"}'
        secret = SECRETS["HOOKHUB_SECRET_WORKFLOW_GITHUB_TRIGGER_AUTH_SECRET"].encode()
        signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        answer = await asyncio.to_thread(
            _call, workflows["items"][0]["url"], None, body, {"X-Hub-Signature-256": signature}
        )
        assert answer == "ok"
        await remote.until("/runs?status=succeeded", lambda page: page["items"])
        runs = await asyncio.to_thread(remote.listed, "runs", "list", "--workflow", "github")
        assert [run["status"] for run in runs] == ["succeeded"]
        assert await asyncio.to_thread(remote.listed, "runs", "list", "--status", "failed") == []
        table = await asyncio.to_thread(remote.run, "runs", "list")
        assert runs[0]["id"] in table.stdout and "succeeded" in table.stdout
        missing = await asyncio.to_thread(remote.run, "runs", "list", "--workflow", "nope")
        assert missing.returncode == 2 and "no workflow with id or name 'nope'" in missing.stderr


def _call(
    url: str, token: str | None, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Any:
    request = urllib.request.Request(url, data=body, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        content = response.read()
        json_body = response.headers.get_content_type() == "application/json"
        return json.loads(content) if json_body else content.decode()


def test_url_credentials_are_exported_as_variables(tmp_path: Path) -> None:
    url = "http://ops:pa55-in-url@127.0.0.1:9/in?token=t0k-in-url&page=1"
    first = f"sqlite:///{tmp_path / 'first.db'}"
    hooks = write(tmp_path, f"webhooks:\n  - name: crm\n    url: '{url}'\n")
    assert hookhub(first, "apply", "-f", hooks).returncode == 0
    listed = hookhub(first, "webhooks", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["url"] == (
        "http://ops:********@127.0.0.1:9/in?token=********&page=1"
    )
    exported = hookhub(first, "export")
    assert exported.returncode == 0, exported.stderr
    assert "pa55-in-url" not in exported.stdout and "t0k-in-url" not in exported.stdout
    assert "#   HOOKHUB_SECRET_CRM_URL_PASSWORD\n" in exported.stdout
    assert "#   HOOKHUB_SECRET_CRM_URL_QUERY_TOKEN\n" in exported.stdout

    # Applied elsewhere with the variables set, the export makes the same URL.
    second = f"sqlite:///{tmp_path / 'second.db'}"
    env = {
        "HOOKHUB_SECRET_CRM_URL_PASSWORD": "pa55-in-url",
        "HOOKHUB_SECRET_CRM_URL_QUERY_TOKEN": "t0k-in-url",
    }
    applied = hookhub(second, "apply", "-f", "-", stdin=exported.stdout, **env)
    assert applied.returncode == 0, applied.stderr
    assert hookhub(second, "export").stdout == exported.stdout
    with sqlite3.connect(tmp_path / "second.db") as conn:
        assert conn.execute("SELECT url FROM webhooks").fetchall() == [(url,)]
