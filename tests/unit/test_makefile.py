"""`make serve` installs what serving needs and no more; the checks add the dev extras
(issue 23.12). Read from `make -n` (what would run), in a copy: nothing is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _would_run(tmp_path: Path, *args: str) -> list[str]:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    # Under `make test` this make is nested: without --no-print-directory it would print
    # "make[1]: Entering directory ..." around what it would run.
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_serve_installs_the_runtime_dependencies_only(tmp_path: Path) -> None:
    lines = _would_run(tmp_path, "serve", "ARGS=--port 8080")
    installs = [line for line in lines if "pip install" in line and "--upgrade pip" not in line]
    assert installs == [".venv/bin/python -m pip install --quiet -e ."]
    assert lines[-1] == ".venv/bin/hookhub serve --port 8080"


def test_the_checks_add_the_dev_extras(tmp_path: Path) -> None:
    lines = _would_run(tmp_path, "test")
    assert ".venv/bin/python -m pip install --quiet -e '.[dev]'" in lines
    assert lines[-1].startswith(".venv/bin/python -m pytest")
