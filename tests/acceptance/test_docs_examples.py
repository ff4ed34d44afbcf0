"""The walkthroughs of README.md and docs/quickstart.md, run as written against a live `hookhub
serve` on a free port with a fresh database in an empty folder, each command's output compared
with the one documented under it (tests/support/console_docs.py): the docs can't drift from what
the server does (issue 23.14). Blocks that can't run here say so with an annotation."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.console_docs import Block, Command, Mismatch, blocks, compare_lines
from tests.support.console_docs import compare_output as compare
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["README.md", "docs/quickstart.md"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
COMMAND_TIMEOUT = 120.0  # seconds one command may take (a CLI start on a loaded machine)
SETTLE_DEADLINE = 120.0  # seconds a read-only command is retried until its output matches
# Commands that change nothing may be run again until their output is the documented one
# (a delivery sent, a run finished): a deadline on a condition, not a fixed wait.
WRITES = re.compile(r"(-X\s*(POST|PUT|PATCH|DELETE)|\s-d\s|\bcreate\b|\bcd\b|=\$\()")


class Session:
    """One reader going through a page: a folder, shell variables, the processes started."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.api_port = free_port()
        self.receiver_port = free_port()
        self.elsewhere = folder.parent / "elsewhere"  # for `cd /tmp`: a folder with no database
        self.elsewhere.mkdir()
        self.variables: dict[str, str] = {}
        self.bindings: dict[str, str] = {}
        self.background: list[tuple[subprocess.Popen[bytes], Path]] = []
        bin_dir = folder / ".venv/bin"
        bin_dir.mkdir(parents=True)
        # `.venv/bin/hookhub` as the README's make serve leaves it: this interpreter's hookhub.
        launcher = bin_dir / "hookhub"
        launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m hookhub "$@"\n')
        launcher.chmod(0o755)
        dropped = ("HOOKHUB_DATABASE_URL", "HOOKHUB_URL", "HOOKHUB_TOKEN", "HOOKHUB_CONFIG")
        self.env = {k: v for k, v in os.environ.items() if k not in dropped}
        self.env["PATH"] = f"{bin_dir}{os.pathsep}{self.env.get('PATH', '')}"

    def localized(self, text: str) -> str:
        """A documented command or output with this session's ports, folders and ids."""
        text = text.replace("127.0.0.1:8000", f"127.0.0.1:{self.api_port}")
        text = text.replace("127.0.0.1:9000", f"127.0.0.1:{self.receiver_port}")
        text = text.replace("--port 9000", f"--port {self.receiver_port}")
        text = re.sub(r"(?<![\w/.])/tmp(?=[/\s]|$)", str(self.elsewhere), text)
        for documented, real in self.bindings.items():
            text = text.replace(documented, real)
        return text

    def run(self, command: Command) -> tuple[int, str]:
        """Run one command in bash with the variables set so far; keep those it sets."""
        text = self.localized(command.text)
        names = re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", text, re.M)
        saved = self.folder / ".variables"
        script = "".join(f"{k}={shlex.quote(v)}\n" for k, v in self.variables.items())
        script += f"{text}\n__status=$?\n"
        script += "".join(
            f'printf "%s\\0" "{n}=${n}" >> {shlex.quote(str(saved))}\n' for n in names
        )
        script += "exit $__status\n"
        saved.write_text("")
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=COMMAND_TIMEOUT,
        )
        for pair in saved.read_text().split("\0"):
            if pair:
                name, _, value = pair.partition("=")
                self.variables[name] = value
        return done.returncode, done.stdout.decode()

    def check(self, block: Block, command: Command) -> None:
        """Run `command`; its output must be the documented one (retried while it changes
        nothing and doesn't match yet)."""
        documented = [self.localized(line) for line in command.output]
        deadline = time.monotonic() + SETTLE_DEADLINE
        while True:
            status, printed = self.run(command)
            try:
                if not documented:
                    assert status == 0, f"exit {status}"
                    assert printed == "", "printed output the page doesn't show"
                else:
                    compare(documented, printed, self.bindings)
                return
            except (Mismatch, AssertionError) as exc:
                if WRITES.search(command.text) or time.monotonic() > deadline:
                    raise AssertionError(
                        f"{block.where}: $ {command.text}\n{exc}\nprinted:\n{printed}"
                    ) from None
            time.sleep(0.5)

    def start(self, args: list[str], log_name: str) -> Path:
        log = self.folder / log_name
        with log.open("wb") as out:
            process = subprocess.Popen(
                args, cwd=self.folder, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.background.append((process, log))
        return log

    def serve(self) -> None:
        """`make serve`, as the page starts it: `hookhub serve` in this folder, on its port."""
        hookhub = str(self.folder / ".venv/bin/hookhub")
        log = self.start([hookhub, "serve", "--port", str(self.api_port)], "serve.log")
        url = f"http://127.0.0.1:{self.api_port}/healthz"
        self.wait(lambda: _answers(url), f"hookhub serve to answer (log: {log.read_text()!r})")

    def in_background(self, block: Block) -> None:
        """A command that runs until stopped: started, then its first documented line awaited."""
        [command] = block.commands
        log = self.start(["bash", "-c", "exec " + self.localized(command.text)], "background.log")
        first = [self.localized(line) for line in command.output[:1]]

        def started() -> bool:
            lines = log.read_text().splitlines()[:1]
            try:
                compare_lines(first, lines, self.bindings)
            except Mismatch:
                return False
            return True

        self.wait(started, f"{block.where}: {first} (printed: {log.read_text()!r})")

    def receiver_printed(self, block: Block) -> None:
        """The first request's block, as the background receiver printed it."""
        log = self.background[-1][1]
        self.wait(lambda: "Completed request #1" in log.read_text(), "the receiver's request #1")
        printed = log.read_text().splitlines()
        start = next(i for i, line in enumerate(printed) if line.startswith("[1] "))
        end = printed.index("------------", start)
        documented = [self.localized(line) for line in block.lines]
        try:
            compare_lines(documented, printed[start : end + 1], self.bindings)
        except Mismatch as exc:
            raise AssertionError(f"{block.where}: {exc}") from None

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + SETTLE_DEADLINE
        while not condition():
            for process, log in self.background:
                assert process.poll() is None, f"{process.args} exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"gave up waiting for {what}"
            time.sleep(0.2)

    def stop(self) -> None:
        for process, _ in reversed(self.background):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # Ctrl-C, as the page says
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def _session(tmp_path: Path) -> Iterator[Session]:
    folder = tmp_path / "clone"
    folder.mkdir()
    session = Session(folder)
    try:
        yield session
    finally:
        session.stop()


def _tools() -> None:
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if missing:
        if IN_CI:
            pytest.fail(f"the doc examples need {', '.join(missing)} in CI")
        pytest.skip(f"the doc examples need {', '.join(missing)}")


def test_every_console_block_runs_or_says_why_not() -> None:
    """No block is skipped silently: one that can't run names the reason."""
    for page in PAGES:
        found = blocks(ROOT / page)
        assert any(block.kind is None for block in found)
        for block in found:
            if block.kind == "skip":
                assert block.reason, f"{block.where}: say why it is skipped"
            assert block.commands or block.kind == "receiver-output", block.where


@pytest.mark.timeout(900)
@pytest.mark.parametrize("page", PAGES)
def test_console_examples_print_what_the_page_shows(page: str, tmp_path: Path) -> None:
    _tools()
    with _session(tmp_path) as session:
        for block in blocks(ROOT / page):
            if block.kind == "skip":
                continue
            if block.kind == "server":
                session.serve()
            elif block.kind == "background":
                session.in_background(block)
            elif block.kind == "receiver-output":
                session.receiver_printed(block)
            else:
                for command in block.commands:
                    session.check(block, command)
