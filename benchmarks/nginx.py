"""nginx as the benchmarks' receiver: answers 200 to every request, counted by its stub_status.

Issue 8 asks for nginx where it is installed: in C, it costs the machine less per request than
the asyncio receiver, so more of the cores are left to what is measured. It runs as a single
process (no master, no daemon) with its configuration, logs and temporary files in a folder of
its own, on a free port of 127.0.0.1.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from ports import free_port, listening

HOST = "127.0.0.1"
STATUS_PATH = "/nginx-status"
TRIES = 3  # starts, each on another free port
# In Debian's packages nginx is in /usr/sbin, which is not on every user's PATH.
PLACES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")

CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 8192;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    # Clients keep their connections for the whole run, as the benchmark's clients pool them.
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_buffer_size 64k;
    server {{
        listen {host}:{port} backlog=1024;
        location = {status} {{ stub_status; }}
        location / {{ return 200; }}
    }}
}}
"""

REQUESTS = re.compile(rb"server accepts handled requests\s+\d+\s+\d+\s+(\d+)")
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
# Asked every few milliseconds while workers drain: one prebuilt request on a kept socket costs
# the benchmark's process (which shares the cores with what it measures) a fraction of what
# http.client did.
STATUS_REQUEST = f"GET {STATUS_PATH} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()


class NginxFailed(Exception):
    """nginx could not be started or asked for its count; the message says why."""


def find() -> str | None:
    """The nginx executable, if one is installed."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((place for place in PLACES if Path(place).is_file()), None)


def version(executable: str) -> str:
    """What `nginx -v` says of itself, e.g. "nginx/1.22.1"."""
    done = subprocess.run(
        [executable, "-v"], capture_output=True, text=True, timeout=10, check=False
    )
    return (done.stderr or done.stdout).strip().removeprefix("nginx version: ")


class NginxReceiver:
    """An nginx process answering 200 to anything, and how many requests it has answered."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.name = version(executable)
        self._folder = tempfile.TemporaryDirectory(prefix="hookhub-bench-nginx-")
        self._port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._status: socket.socket | None = None
        self._asked = 0  # status requests so far: nginx counts them too

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._port}/hook"

    @property
    def count(self) -> int:
        """Requests answered, the status requests that asked excluded."""
        self._asked += 1
        try:
            body = self._status_page()
        except OSError as exc:
            self._close_status()
            raise NginxFailed(f"nginx's status page did not answer: {exc}") from exc
        found = REQUESTS.search(body)
        if found is None:
            raise NginxFailed(f"nginx's status page said {body[:200]!r}")
        return int(found.group(1)) - self._asked

    def _status_page(self) -> bytes:
        if self._status is None:
            self._status = socket.create_connection((HOST, self._port), timeout=10)
        self._status.sendall(STATUS_REQUEST)
        answer = b""
        while True:
            head, found, body = answer.partition(b"\r\n\r\n")
            length = CONTENT_LENGTH.search(head) if found else None
            if length is not None and len(body) >= int(length.group(1)):
                return body
            chunk = self._status.recv(4096)
            if not chunk:
                raise ConnectionError("nginx closed the status connection")
            answer += chunk

    def _close_status(self) -> None:
        if self._status is not None:
            self._status.close()
            self._status = None

    def start(self, timeout: float = 15.0) -> None:
        folder = Path(self._folder.name)
        said = folder / "stderr.log"  # what nginx says before its error log is open
        for _ in range(TRIES):  # the free port may be taken between looking and listening
            self._port = free_port()
            config = folder / "nginx.conf"
            config.write_text(
                CONFIG.format(folder=folder, host=HOST, port=self._port, status=STATUS_PATH)
            )
            with said.open("wb") as stderr:
                self._process = subprocess.Popen(
                    [self.executable, "-p", str(folder), "-c", str(config)],
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            if listening(self._port, self._running, timeout):
                return
            self._halt()
        logs = [log.read_text().strip() for log in (said, folder / "error.log") if log.exists()]
        reason = " / ".join(text[-300:] for text in logs if text) or "it said nothing"
        raise NginxFailed(f"nginx did not start listening after {TRIES} tries: {reason}")

    def stop(self) -> None:
        """Stop nginx and remove its folder."""
        self._halt()
        self._folder.cleanup()

    def _running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _halt(self) -> None:
        self._close_status()
        if self._process is not None and self._running():
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
