"""docs/workflows.md's "GitHub push → deploy script" example, run as written: its script, its
workflow and its requests come from the page (only /opt/hooks is a temporary folder here)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest

from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.support.workflows import trigger_client

PAGE = Path(__file__).parents[2] / "docs" / "workflows.md"
SECTION = "## Example: GitHub push → deploy script"


def _example() -> str:
    text = PAGE.read_text(encoding="utf-8")
    return text[text.index(SECTION) :]


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


@pytest.fixture
def hooks(tmp_path: Path) -> Path:
    folder = tmp_path / "opt-hooks"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def settings(database_url: str, hooks: Path) -> Settings:
    return Settings(
        database_url=database_url, poll_interval=0.05, lease_margin=1.0, command_dirs=(str(hooks),)
    )


async def test_the_github_deploy_example_runs_as_written(hookhub: Hookhub, hooks: Path) -> None:
    example = _example()
    [script] = _blocks(example, "sh")
    deploy = hooks / "deploy.sh"
    deploy.write_text(script)
    deploy.chmod(0o755)
    workflow_json, refusal_json = _blocks(example, "json")
    workflow = json.loads(workflow_json.replace("/opt/hooks", str(hooks)))
    secret = workflow["trigger"]["auth"]["secret"]
    created = await hookhub.admin.post("/workflows", json=workflow)
    assert created.status_code == 201, created.text
    url = f"/hooks/{created.json()['key']}"
    console = _blocks(example, "console")[-1]
    body = re.search(r"^\$ BODY='(.*)'$", console, flags=re.MULTILINE)
    assert body
    delivery = re.search(r'"X-GitHub-Delivery: ([^"]+)"', console)
    assert delivery
    documented = console.strip().splitlines()[-1]

    def headers(raw: bytes, delivery_id: str, key: str = secret) -> dict[str, str]:
        digest = hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery_id,
            "X-Hub-Signature-256": f"sha256={digest}",
        }

    raw = body.group(1).encode()
    async with trigger_client(hookhub) as client:
        deployed = await client.post(url, content=raw, headers=headers(raw, delivery.group(1)))
        again = await client.post(url, content=raw, headers=headers(raw, delivery.group(1)))
        branch = json.dumps({**json.loads(raw), "ref": "refs/heads/dev"}).encode()
        skipped = await client.post(url, content=branch, headers=headers(branch, "d-2"))
        forged = await client.post(url, content=raw, headers=headers(raw, "d-3", "guess"))
        hostile = json.dumps({**json.loads(raw), "after": "$(reboot)"}).encode()
        refused = await client.post(url, content=hostile, headers=headers(hostile, "d-4"))
    assert deployed.status_code == 200, deployed.text
    assert deployed.json() == json.loads(documented)
    assert "duplicate_of" in again.json()
    assert (skipped.status_code, skipped.text) == (202, "not a push to main: nothing to deploy")
    assert forged.status_code == 401
    assert refused.status_code == 500
    assert refused.json() == json.loads(refusal_json.replace("/opt/hooks", str(hooks)))
