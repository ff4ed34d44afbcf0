"""Running a program for a `command` node: where it may live, and the bounded subprocess.

A program runs only when it resolves (symbolic links and `..` resolved) inside one of the
folders of HOOKHUB_COMMAND_DIRS. Its arguments go to it as a list, never through a shell; it
runs in its own process group, so a timeout kills it with every child it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SETTING = "HOOKHUB_COMMAND_DIRS"
OUTPUT_LIMIT = 64 * 1024  # bytes of stdout and of stderr kept; the rest is read and dropped
READ_CHUNK = 16 * 1024  # bytes per read from a pipe
DRAIN_GRACE = 1.0  # seconds to finish reading pipes after the program exited or was killed
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"  # PATH of the clean environment programs get


class CommandRefused(Exception):
    """The program is not one hookhub may run."""


def resolve_program(program: str, dirs: Sequence[str]) -> str:
    """The real path of `program` when it lies inside one of `dirs`; CommandRefused otherwise."""
    if not dirs:
        raise CommandRefused(f"command nodes are off: start the server with {SETTING} set")
    if not os.path.isabs(program):
        raise CommandRefused(f"the program must be an absolute path, got {program!r}")
    real = os.path.realpath(program)
    for folder in dirs:
        base = os.path.realpath(folder)
        if os.path.commonpath([base, real]) == base and real != base:
            return real
    raise CommandRefused(
        f"{program!r} (resolved to {real!r}) is not inside the folders of {SETTING}"
    )


@dataclass(frozen=True)
class Completed:
    """What a program did: exit code (None when killed at its timeout), output, time."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    duration_ms: float
    timed_out: bool


class _Bounded:
    """Reads a pipe to its end, keeping the first `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.truncated = False

    async def read(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(READ_CHUNK):
            room = self.limit - len(self.kept)
            if len(chunk) > room:
                self.truncated = True
            if room > 0:
                self.kept += chunk[:room]


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_program(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | None,
    stdin: bytes | None,
    time_limit: float,
    limit: int = OUTPUT_LIMIT,
) -> Completed:
    """Run `argv` (argv[0] already resolved) with a clean environment plus `env`; kill its
    process group at `time_limit` seconds, or if the run is cancelled. OSError if it can't start."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env={"PATH": CLEAN_PATH, **env},
        start_new_session=True,  # its own process group: killpg reaches its children too
    )
    out, err = _Bounded(limit), _Bounded(limit)
    readers = asyncio.gather(out.read(process.stdout), err.read(process.stderr))
    timed_out = False
    try:
        if stdin is not None and process.stdin is not None:
            writer = asyncio.create_task(_feed(process.stdin, stdin))
        else:
            writer = None
        try:
            await asyncio.wait_for(process.wait(), time_limit)
        except TimeoutError:
            timed_out = True
        # Children that outlive the program (or the program at its timeout) go with the group;
        # a child still holding a pipe open cannot keep the node waiting past the grace.
        _kill_group(process.pid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(readers), DRAIN_GRACE)
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
    finally:
        _kill_group(process.pid)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        readers.cancel()
        await asyncio.gather(readers, return_exceptions=True)
    return Completed(
        exit_code=None if timed_out else process.returncode,
        stdout=bytes(out.kept),
        stderr=bytes(err.kept),
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        timed_out=timed_out,
    )


async def _feed(pipe: asyncio.StreamWriter, data: bytes) -> None:
    # A program that exits without reading its input closes the pipe: that is not an error.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        pipe.write(data)
        await pipe.drain()
        pipe.close()
        await pipe.wait_closed()
