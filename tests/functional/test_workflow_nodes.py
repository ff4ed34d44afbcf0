"""The command, delay and foreach nodes and `on_error`, over real HTTP with real programs."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.support.receiver import Receiver, Reply
from tests.support.server import free_port
from tests.support.workflows import create_workflow, trigger_client, wait_run


@pytest.fixture
def hooks(tmp_path: Path) -> Path:
    """The one folder of HOOKHUB_COMMAND_DIRS."""
    folder = tmp_path / "hooks"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def settings(database_url: str, hooks: Path) -> Settings:
    return Settings(
        database_url=database_url,
        poll_interval=0.05,
        lease_margin=1.0,
        command_dirs=(str(hooks),),
    )


def script(path: Path, body: str) -> Path:
    """An executable Python program at `path` (run by this interpreter, no PATH needed)."""
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


def command(program: Path | str, *args: str, **fields: Any) -> dict[str, Any]:
    return {"id": "cmd", "type": "command", "argv": [str(program), *args], **fields}


SYNC = {"mode": "sync", "timeout": 60}
ANSWER = {"id": "answer", "type": "response", "body": "{{ nodes.cmd.stdout }}"}


async def _refused(hookhub: Hookhub, node: dict[str, Any]) -> dict[str, Any]:
    response = await hookhub.admin.post(
        "/workflows", json={"name": "refused", "start": node["id"], "nodes": [node]}
    )
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_a_sync_command_answers_with_its_stdout(hookhub: Hookhub, hooks: Path) -> None:
    deploy = script(hooks / "deploy.py", "import sys\nprint('deployed', sys.argv[1])\n")
    workflow = await create_workflow(
        hookhub,
        trigger=SYNC,
        nodes=[command(deploy, "{{ body.ref }}", next="answer"), ANSWER],
    )
    async with trigger_client(hookhub) as client:
        answer = await client.post(f"/hooks/{workflow['key']}", json={"ref": "refs/heads/main"})
    assert (answer.status_code, answer.text) == (200, "deployed refs/heads/main\n")
    run = await wait_run(hookhub, answer.headers["hookhub-run-id"])
    output = run["nodes"][0]["output"]
    assert output["exit_code"] == 0 and output["stderr"] == "" and output["duration_ms"] > 0
    assert output["truncated"] == {"stdout": False, "stderr": False}
    assert run["nodes"][0]["input"]["argv"] == [str(deploy), "refs/heads/main"]


async def test_arguments_env_and_stdin_arrive_verbatim_never_through_a_shell(
    hookhub: Hookhub, hooks: Path, tmp_path: Path
) -> None:
    show = script(
        hooks / "show.py",
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv[1:], 'env': dict(os.environ),"
        " 'stdin': sys.stdin.read()}))\n",
    )
    marker = tmp_path / "pwned"
    hostile = [
        "two words",
        'it\'s "quoted"',
        f"x; touch {marker}",
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"a && touch {marker} | cat > {marker}",
        "  padded  ",
        "",
    ]
    node = command(
        show,
        *hostile,
        "{{ body.value }}",
        env={"GREETING": "{{ body.value }}"},
        stdin="{{ body.value }}",
        next="answer",
    )
    workflow = await create_workflow(hookhub, trigger=SYNC, nodes=[node, ANSWER])
    value = f"$(touch {marker}); echo 'hi' \"there\""
    async with trigger_client(hookhub) as client:
        answer = await client.post(f"/hooks/{workflow['key']}", json={"value": value})
    assert answer.status_code == 200, answer.text
    seen = json.loads(answer.text)
    assert seen["argv"] == [*hostile, value]
    assert seen["stdin"] == value
    assert seen["env"]["GREETING"] == value
    # A clean environment: nothing of the server's (database URL, HOME, ...) leaks in.
    assert not {name for name in seen["env"] if name.startswith("HOOKHUB")} | (
        set(seen["env"]) & {"HOME", "PYTHONPATH", "USER"}
    )
    assert not marker.exists()


async def test_programs_outside_the_folders_are_refused_at_save_and_at_run(
    hookhub: Hookhub, hooks: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    outside = script(tmp_path / "outside.py", f"open({str(marker)!r}, 'w').close()\n")
    inside = script(hooks / "inside.py", "print('inside')\n")
    (hooks / "escape").symlink_to(outside)
    for program in (outside, f"{hooks}/../outside.py", hooks / "escape", "/bin/echo"):
        error = await _refused(hookhub, command(program))
        assert error["field"] == "nodes.cmd.argv.0", error
        assert "is not inside the folders of HOOKHUB_COMMAND_DIRS" in error["message"], error
    relative = await _refused(hookhub, command("hooks/inside.py"))
    assert "absolute path" in relative["message"]
    # Saved while its link pointed inside, then pointed outside: refused again at run time.
    link = hooks / "current"
    link.symlink_to(inside)
    workflow = await create_workflow(hookhub, trigger=SYNC, nodes=[command(link)])
    link.unlink()
    link.symlink_to(outside)
    async with trigger_client(hookhub) as client:
        answer = await client.post(f"/hooks/{workflow['key']}", json={})
    assert answer.status_code == 500
    run = await wait_run(hookhub, answer.headers["hookhub-run-id"])
    assert "is not inside the folders of HOOKHUB_COMMAND_DIRS" in run["nodes"][0]["error"]
    assert not marker.exists()


def test_command_nodes_are_off_without_the_setting(hooks: Path) -> None:
    from hookhub.errors import ValidationError
    from hookhub.workflows.document import validate_workflow

    doc = {"name": "x", "start": "cmd", "nodes": [command(hooks / "any.py")]}
    with pytest.raises(ValidationError) as refused:
        validate_workflow(doc, ())
    assert "command nodes are off: start the server with HOOKHUB_COMMAND_DIRS" in str(
        refused.value.message
    )
    assert validate_workflow(doc, (str(hooks),))["nodes"][0]["argv"] == [str(hooks / "any.py")]


def _gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def test_a_command_past_its_timeout_is_killed_with_its_children(
    hookhub: Hookhub, hooks: Path
) -> None:
    pids = hooks / "pids"
    slow = hooks / "slow.sh"
    slow.write_text(f"#!/bin/sh\nsleep 300 &\necho $$ $! > {pids}\nwait\n")
    slow.chmod(0o755)
    node = command(slow, timeout=1, on_error="answer")
    answer_node = {"id": "answer", "type": "response", "status": 504, "body": "{{ error.message }}"}
    workflow = await create_workflow(hookhub, trigger=SYNC, nodes=[node, answer_node])
    async with trigger_client(hookhub) as client:
        answer = await client.post(f"/hooks/{workflow['key']}", json={})
    assert (answer.status_code, answer.text) == (504, f"{slow}: killed after its timeout of 1 s")
    shell, child = (int(pid) for pid in pids.read_text().split())
    async with asyncio.timeout(20):
        while not (_gone(shell) and _gone(child)):
            await asyncio.sleep(0.05)
    run = await wait_run(hookhub, answer.headers["hookhub-run-id"])
    assert run["nodes"][0]["output"]["timed_out"] is True
    assert run["nodes"][0]["output"]["exit_code"] is None


async def test_exit_codes_fail_the_node_unless_told_and_output_is_bounded(
    hookhub: Hookhub, hooks: Path
) -> None:
    noisy = script(
        hooks / "noisy.py",
        "import sys\nsys.stdout.write('o' * 1_000_000)\nsys.stderr.write('e' * 10)\nsys.exit(3)\n",
    )
    strict = await create_workflow(hookhub, name="strict", trigger=SYNC, nodes=[command(noisy)])
    lenient = await create_workflow(
        hookhub,
        name="lenient",
        trigger=SYNC,
        nodes=[
            command(noisy, fail_on_exit=False, next="answer"),
            {"id": "answer", "type": "response", "body": "{{ nodes.cmd.exit_code }}"},
        ],
    )
    async with trigger_client(hookhub) as client:
        failed = await client.post(f"/hooks/{strict['key']}", json={})
        passed = await client.post(f"/hooks/{lenient['key']}", json={})
    assert failed.status_code == 500
    assert (passed.status_code, passed.text) == (200, "3")
    run = await wait_run(hookhub, failed.headers["hookhub-run-id"])
    assert run["nodes"][0]["error"] == f"{noisy}: exit code 3"
    output = run["nodes"][0]["output"]
    assert len(output["stdout"]) == 64 * 1024 and output["stderr"] == "e" * 10
    assert output["truncated"] == {"stdout": True, "stderr": False}


async def test_on_error_answers_a_custom_502(hookhub: Hookhub) -> None:
    dead = f"http://127.0.0.1:{free_port()}/charge"  # nothing listens there
    nodes = [
        {"id": "charge", "type": "request", "url": dead, "timeout": 5, "on_error": "sorry"},
        {"id": "ok", "type": "response", "body": "charged"},
        {
            "id": "sorry",
            "type": "response",
            "status": 502,
            "headers": {"Content-Type": "application/json"},
            "body": '{"failed": {{ error.node | tojson }}, "type": {{ error.type | tojson }}}',
        },
    ]
    nodes[0]["next"] = "ok"
    workflow = await create_workflow(hookhub, trigger=SYNC, nodes=nodes)
    async with trigger_client(hookhub) as client:
        answer = await client.post(f"/hooks/{workflow['key']}", json={})
    assert (answer.status_code, answer.json()) == (502, {"failed": "charge", "type": "request"})
    run = await wait_run(hookhub, answer.headers["hookhub-run-id"])
    assert run["status"] == "succeeded"
    assert [node["id"] for node in run["nodes"]] == ["charge", "sorry"]
    assert run["nodes"][0]["error"].startswith(f"POST {dead}: ")
    assert run["nodes"][0]["handled_by"] == "sorry"


async def test_foreach_runs_50_requests_5_at_a_time(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda r: Reply(body=r.path.rsplit("/", 1)[1], delay=0.05)
    nodes = [
        {
            "id": "each",
            "type": "foreach",
            "items": "{{ body.commits | tojson }}",
            "do": "notify",
            "concurrency": 5,
            "next": "count",
        },
        {
            "id": "notify",
            "type": "request",
            "url": receiver.url + "/commit/{{ item.id }}",
            "body": '{"index": {{ index }}}',
            "next": "seen",
        },
        {"id": "seen", "type": "set", "values": {"last": "{{ nodes.notify.text }}"}},
        {"id": "count", "type": "set", "values": {"passes": "{{ nodes.each | length }}"}},
    ]
    workflow = await create_workflow(hookhub, start="each", nodes=nodes)
    commits = [{"id": f"c{i}"} for i in range(50)]
    async with trigger_client(hookhub) as client:
        accepted = await client.post(f"/hooks/{workflow['key']}", json={"commits": commits})
    run = await wait_run(hookhub, accepted.headers["hookhub-run-id"], timeout=60)
    assert run["status"] == "succeeded", run["error"]
    assert sorted(r.path for r in receiver.requests) == sorted(f"/commit/c{i}" for i in range(50))
    assert len(receiver.requests) == 50
    assert receiver.max_in_flight <= 5
    assert sorted(json.loads(r.body)["index"] for r in receiver.requests) == list(range(50))
    each = next(node for node in run["nodes"] if node["id"] == "each")
    # The list of each pass's last output, in item order.
    assert each["output"] == [{"last": f"c{i}"} for i in range(50)]
    assert run["vars"] == {"passes": 50}  # a pass's own `set` values stay in the pass
    passes = [node for node in run["nodes"] if node.get("loop") == "each"]
    assert {node["index"] for node in passes} == set(range(20))  # the first 20 are logged


async def test_a_failing_pass_fails_the_foreach(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda r: Reply(status=500 if r.path.endswith("/2") else 200)
    nodes = [
        {"id": "each", "type": "foreach", "items": "[1, 2, 3]", "do": "call"},
        {"id": "call", "type": "request", "url": receiver.url + "/{{ item }}"},
    ]
    workflow = await create_workflow(hookhub, start="each", nodes=nodes)
    async with trigger_client(hookhub) as client:
        accepted = await client.post(f"/hooks/{workflow['key']}", json={})
    run = await wait_run(hookhub, accepted.headers["hookhub-run-id"])
    assert run["status"] == "failed"
    assert run["error"].startswith("node 'each' (foreach) failed: pass 1: node 'call' (request)")
    assert [r.path for r in receiver.requests] == ["/1", "/2"]  # no pass starts after a failure


async def test_save_refuses_misplaced_loops_and_delays(hookhub: Hookhub) -> None:
    pause = {"id": "pause", "type": "delay", "seconds": "1"}
    sync = await hookhub.admin.post(
        "/workflows",
        json={"name": "s", "trigger": {"mode": "sync"}, "start": "pause", "nodes": [pause]},
    )
    assert sync.status_code == 422
    assert sync.json()["error"]["field"] == "nodes.pause.type"
    assert "needs an async trigger" in sync.json()["error"]["message"]
    looped = await hookhub.admin.post(
        "/workflows",
        json={
            "name": "l",
            "start": "each",
            "nodes": [{"id": "each", "type": "foreach", "items": "[1]", "do": "pause"}, pause],
        },
    )
    assert looped.status_code == 422
    assert looped.json()["error"]["field"] == "nodes.each.do"
    back = await hookhub.admin.post(
        "/workflows",
        json={
            "name": "b",
            "start": "a",
            "nodes": [
                {"id": "a", "type": "set", "values": {"x": "1"}, "on_error": "b"},
                {"id": "b", "type": "set", "values": {"y": "1"}, "next": "a"},
            ],
        },
    )
    assert back.status_code == 422
    assert "makes a cycle" in back.json()["error"]["message"]


async def test_a_delay_parks_the_run_in_the_database(hookhub: Hookhub, receiver: Receiver) -> None:
    nodes = [
        {"id": "pause", "type": "delay", "seconds": "{{ body.wait }}", "next": "note"},
        {"id": "note", "type": "set", "values": {"waited": "{{ nodes.pause.seconds }}"}},
        {"id": "call", "type": "request", "url": receiver.url + "/{{ vars.waited }}"},
    ]
    nodes[1]["next"] = "call"
    workflow = await create_workflow(hookhub, start="pause", nodes=nodes)
    async with trigger_client(hookhub) as client:
        before, started = time.time(), time.monotonic()
        accepted = await client.post(f"/hooks/{workflow['key']}", json={"wait": 1})
    run = await wait_run(hookhub, accepted.headers["hookhub-run-id"], timeout=30)
    assert run["status"] == "succeeded", run["error"]
    assert [node["id"] for node in run["nodes"]] == ["pause", "note", "call"]
    assert run["nodes"][0]["output"]["until"] >= before + 1
    assert [r.path for r in receiver.requests] == ["/1.0"]
    assert run["resume_at"] is None
    assert receiver.requests[0].at - started >= 1  # it waited (a lower bound: no speed assumed)


async def test_credential_like_env_values_are_masked_and_kept(
    hookhub: Hookhub, hooks: Path
) -> None:
    show = script(hooks / "env.py", "import os\nprint(os.environ['DEPLOY_TOKEN'])\n")
    node = command(show, env={"DEPLOY_TOKEN": "t0ken", "TARGET": "prod"}, next="answer")
    created = await create_workflow(hookhub, trigger=SYNC, nodes=[node, ANSWER])
    assert created["nodes"][0]["env"] == {"DEPLOY_TOKEN": "********", "TARGET": "prod"}
    patched = await hookhub.admin.patch(
        f"/workflows/{created['id']}", json={"nodes": created["nodes"]}
    )
    assert patched.status_code == 200, patched.text
    async with trigger_client(hookhub) as client:
        answer = await client.post(f"/hooks/{created['key']}", json={})
    assert answer.text == "t0ken\n"
    run = await wait_run(hookhub, answer.headers["hookhub-run-id"])
    assert run["nodes"][0]["input"]["env"] == ["DEPLOY_TOKEN", "TARGET"]
    assert "t0ken" not in str(run["nodes"][0]["input"])
