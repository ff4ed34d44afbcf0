"""Every `hookhub` command is a new process: what it imports at start is paid by every command
a user (or the acceptance tests, dozens of times) runs. The API's stack (FastAPI and the
management API's models) is loaded only by the commands that need it (issue 23.15)."""

from __future__ import annotations

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
