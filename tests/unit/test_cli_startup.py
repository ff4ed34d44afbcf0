"""Every `hookhub` command is a new process: what it imports at start is paid by every command
a user (or the acceptance tests, dozens of times) runs. The API's stack (FastAPI and the
management API's models) is loaded only by the commands that need it (issue 23.15)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

HEAVY = ("fastapi", "hookhub.api.v1", "hookhub.config.apply")


def test_the_command_line_starts_without_the_api_stack() -> None:
    code = (
        "import sys, hookhub.cli; "
        f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "", f"imported at start: {done.stdout.strip()}"


def _no_core_dump() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def test_a_worker_that_crashes_prints_its_python_stack() -> None:
    # The worker command gets as far as enabling the crash report, then stops at the missing
    # database; the process then dies of a real SIGSEGV (CPython's own test hook for it).
    code = (
        "import faulthandler, sys\n"
        "from hookhub import cli\n"
        "sys.argv = ['hookhub', 'worker', '--database', 'sqlite:////nonexistent/dir/h.db']\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "faulthandler._sigsegv()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONFAULTHANDLER"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        preexec_fn=_no_core_dump,
    )
    assert done.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in done.stderr, done.stderr
    assert 'File "<string>", line 8 in <module>' in done.stderr, done.stderr
