"""Tests for the debug webhook receiver (hookhub.receiver)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import socket
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest

from hookhub import receiver
from hookhub.receiver import ReceiverServer, make_server, serve

SEPARATOR = "------------"
UNPARSEABLE = r"\[-\] \w{3}, .+ GMT 127\.0\.0\.1 code 400, message Invalid HTTP request received\."
FIRST_LINE = re.compile(
    r'^\[(\d+)\] (\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT) (\S+) "(.*)" (\d{3}) -$'
)


@dataclass
class Receiver:
    server: ReceiverServer
    out: io.StringIO

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def blocks(self) -> list[Block]:
        text = self.out.getvalue()
        assert text.endswith(SEPARATOR + "\n")
        return [parse_block(chunk) for chunk in text.split(SEPARATOR + "\n")[:-1]]


@dataclass
class Block:
    number: int
    date: str
    client: str
    request_line: str
    status: int
    headers: list[str]
    rest: list[str]

    def header(self, name: str) -> str:
        prefix = name.lower() + ": "
        values = [line[len(prefix) :] for line in self.headers if line.lower().startswith(prefix)]
        assert len(values) == 1, (name, self.headers)
        return values[0]


def parse_block(chunk: str) -> Block:
    lines = chunk.split("\n")
    assert lines[-1] == ""
    match = FIRST_LINE.match(lines[0])
    assert match, lines[0]
    blank = lines.index("")
    return Block(
        number=int(match[1]),
        date=match[2],
        client=match[3],
        request_line=match[4],
        status=int(match[5]),
        headers=lines[1:blank],
        rest=lines[blank + 1 : -1],
    )


StartReceiver = Callable[..., Receiver]


@pytest.fixture
def start_receiver() -> Iterator[StartReceiver]:
    running: list[tuple[ReceiverServer, threading.Thread]] = []

    def start(secret: str | None = None, status: int = 200) -> Receiver:
        out = io.StringIO()
        server = make_server(port=0, secret=secret, out=out, status=status)
        assert isinstance(server, ReceiverServer)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return Receiver(server, out)

    try:
        yield start
    finally:
        for server, thread in running:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def send(
    url: str,
    body: bytes | Iterable[bytes] | None = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> int:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.read() == b""
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return error.code


def netbox_sig(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha512).hexdigest()


def standard_sig(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def standard_headers(key: bytes, body: bytes, msg_id: str = "msg_1") -> dict[str, str]:
    timestamp = int(datetime.now(UTC).timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_sig(key, msg_id, timestamp, body),
    }


# --- output format ------------------------------------------------------------------------


def test_json_body_is_printed_exactly(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    payload = {"event": "created", "data": {"id": 7, "name": "dev1", "tags": []}}
    body = json.dumps(payload).encode()

    status = send(
        rx.url + "/hooks/x?y=1",
        body,
        headers={"Content-Type": "application/json", "X-Custom": "abc"},
    )

    assert status == 200
    [block] = rx.blocks()
    assert block.number == 1
    assert block.client == "127.0.0.1"
    assert block.request_line == "POST /hooks/x?y=1 HTTP/1.1"
    assert block.status == 200
    assert abs((datetime.now(UTC) - parsedate_to_datetime(block.date)).total_seconds()) < 60
    # urllib normalises header names with str.capitalize(); the receiver prints them as sent.
    port = rx.server.server_address[1]
    assert sorted(block.headers) == sorted(
        [
            "Accept-Encoding: identity",
            "Connection: close",
            f"Content-Length: {len(body)}",
            "Content-Type: application/json",
            f"Host: 127.0.0.1:{port}",
            f"User-Agent: Python-urllib/{sys.version_info.major}.{sys.version_info.minor}",
            "X-Custom: abc",
        ]
    )
    expected_body = [
        "{",
        '    "event": "created",',
        '    "data": {',
        '        "id": 7,',
        '        "name": "dev1",',
        '        "tags": []',
        "    }",
        "}",
    ]
    assert block.rest == [*expected_body, "Completed request #1"]
    assert rx.out.getvalue().endswith("}\nCompleted request #1\n------------\n")


def test_json_detected_without_json_content_type(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    send(rx.url, b'[1, {"a": "\xc3\xa9"}]', headers={"Content-Type": "text/plain"})
    [block] = rx.blocks()
    expected = ["[", "    1,", "    {", '        "a": "é"', "    }", "]"]
    assert block.rest == [*expected, "Completed request #1"]


def test_text_body_is_printed_raw(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    send(rx.url, "name=dev1&x=ü\nsecond line\n".encode(), method="PUT")
    [block] = rx.blocks()
    assert block.request_line == "PUT / HTTP/1.1"
    assert block.rest == ["name=dev1&x=ü", "second line", "Completed request #1"]


def test_undecodable_text_is_replaced(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    send(rx.url, b"bad \xff\xfe bytes")
    [block] = rx.blocks()
    assert block.rest == ["bad \ufffd\ufffd bytes", "Completed request #1"]


def test_too_deeply_nested_json_falls_back_to_text(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    body = b"[" * 5000 + b"]" * 5000
    assert send(rx.url, body) == 200
    [block] = rx.blocks()
    assert block.rest == [body.decode(), "Completed request #1"]


def test_empty_body_prints_nothing(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    assert send(rx.url + "/ping", method="GET") == 200
    text = rx.out.getvalue()
    assert text.endswith("Connection: close\n\nCompleted request #1\n------------\n")
    [block] = rx.blocks()
    assert block.request_line == "GET /ping HTTP/1.1"
    assert block.rest == ["Completed request #1"]


def test_every_method_is_answered_and_counted(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND"]
    for method in methods:
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        assert send(rx.url, body, method=method) == 200
    blocks = rx.blocks()
    assert [b.number for b in blocks] == list(range(1, len(methods) + 1))
    assert [b.request_line for b in blocks] == [f"{m} / HTTP/1.1" for m in methods]
    assert [b.rest[-1] for b in blocks] == [f"Completed request #{n}" for n in range(1, 9)]


def test_counter_is_per_server(start_receiver: StartReceiver) -> None:
    first, second = start_receiver(), start_receiver()
    send(first.url, b"a")
    send(first.url, b"b")
    send(second.url, b"c")
    assert [b.number for b in first.blocks()] == [1, 2]
    assert [b.number for b in second.blocks()] == [1]


def test_configured_status_is_answered(start_receiver: StartReceiver) -> None:
    rx = start_receiver(status=202)
    assert send(rx.url, b"x") == 202
    [block] = rx.blocks()
    assert block.status == 202


def test_chunked_body_is_read(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    # An iterable body without Content-Length makes urllib send Transfer-Encoding: chunked.
    status = send(rx.url, iter([b'{"chunked":', b" true}"]))
    assert status == 200
    [block] = rx.blocks()
    assert block.header("Transfer-Encoding") == "chunked"
    assert block.rest == ["{", '    "chunked": true', "}", "Completed request #1"]


def test_concurrent_requests_do_not_interleave(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    statuses: list[int] = []

    def worker(i: int) -> None:
        statuses.append(send(rx.url, json.dumps({"worker": i, "pad": "x" * 500}).encode()))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)

    assert statuses == [200] * 20
    blocks = rx.blocks()
    assert sorted(b.number for b in blocks) == list(range(1, 21))
    workers = set()
    for block in blocks:
        assert block.rest[-1] == f"Completed request #{block.number}"
        workers.add(json.loads("\n".join(block.rest[:-1]))["worker"])
    assert workers == set(range(20))


# --- body limits and framing --------------------------------------------------------------


def test_oversized_body_gets_413(start_receiver: StartReceiver) -> None:
    rx = start_receiver(secret="s3cret")
    rx.server.max_body = 16
    assert send(rx.url, b"x" * 1000) == 413
    assert send(rx.url, b"x" * 16) == 200  # the server keeps working afterwards
    first, second = rx.blocks()
    assert first.status == 413
    assert first.rest == [
        "(body not read: Content-Length 1000 exceeds the 16-byte limit)",
        "Completed request #1",
    ]
    assert second.status == 200
    assert second.rest[-1] == "Completed request #2"


def test_oversized_chunked_body_gets_413(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    rx.server.max_body = 16
    assert send(rx.url, iter([b"x" * 10, b"y" * 10])) == 413
    [block] = rx.blocks()
    assert block.rest[0] == "(body not read: chunked body exceeds the 16-byte limit)"


def test_default_limit_is_ten_mib() -> None:
    assert receiver.MAX_BODY_BYTES == 10 * 1024 * 1024


def raw_exchange(rx: Receiver, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", rx.server.server_address[1]), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_malformed_chunked_body_gets_400(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    reply = raw_exchange(
        rx,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 400 ")
    [block] = rx.blocks()
    assert block.status == 400
    # The request line and headers are printed; the parser's detail is not available.
    assert block.request_line == "POST / HTTP/1.1"
    assert block.rest[0] == "(body not read: malformed chunked encoding)"


def test_invalid_content_length_gets_400(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    reply = raw_exchange(rx, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 ")
    # The HTTP parser refuses it with the headers, so it is printed as an unparseable request.
    [line] = rx.out.getvalue().splitlines()
    assert re.fullmatch(UNPARSEABLE, line), line


def test_unparseable_request_is_logged_without_number(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    reply = raw_exchange(rx, b"GET / HTTP/one\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 ")
    [line] = rx.out.getvalue().splitlines()
    assert re.fullmatch(UNPARSEABLE, line), line


def test_expect_continue_over_the_limit_gets_413_without_continue(
    start_receiver: StartReceiver,
) -> None:
    rx = start_receiver()
    rx.server.max_body = 16
    reply = raw_exchange(
        rx,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in reply
    [block] = rx.blocks()
    assert block.rest[0] == "(body not read: Content-Length 1000 exceeds the 16-byte limit)"


def test_keep_alive_serves_several_requests(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    reply = raw_exchange(
        rx,
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert reply.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert [b.request_line for b in rx.blocks()] == ["POST /a HTTP/1.1", "GET /b HTTP/1.1"]
    assert rx.blocks()[0].rest == ["hi", "Completed request #1"]


# --- signatures ---------------------------------------------------------------------------

SECRET = "s3cret-ü"


def test_no_secret_prints_no_verdict(start_receiver: StartReceiver) -> None:
    rx = start_receiver()
    send(rx.url, b"{}", headers={"X-Hook-Signature": "deadbeef"})
    [block] = rx.blocks()
    assert not any(line.startswith("Signature") for line in block.rest)


def test_missing_signature_is_reported(start_receiver: StartReceiver) -> None:
    rx = start_receiver(secret=SECRET)
    send(rx.url, b"{}")
    [block] = rx.blocks()
    assert block.rest[-2:] == [
        "Signature: missing (no X-Hook-Signature or webhook-signature header)",
        "Completed request #1",
    ]


def test_netbox_signature_valid(start_receiver: StartReceiver) -> None:
    rx = start_receiver(secret=SECRET)
    body = b'{"event": "updated"}'
    send(rx.url, body, headers={"X-Hook-Signature": netbox_sig(SECRET, body)})
    [block] = rx.blocks()
    assert block.rest[-2:] == ["Signature X-Hook-Signature: valid", "Completed request #1"]


@pytest.mark.parametrize(
    "signature",
    [netbox_sig("other secret", b'{"event": "updated"}'), netbox_sig(SECRET, b"tampered"), "zz"],
)
def test_netbox_signature_invalid(start_receiver: StartReceiver, signature: str) -> None:
    rx = start_receiver(secret=SECRET)
    send(rx.url, b'{"event": "updated"}', headers={"X-Hook-Signature": signature})
    [block] = rx.blocks()
    assert block.rest[-2:] == ["Signature X-Hook-Signature: INVALID", "Completed request #1"]


def test_standard_signature_valid_plain_secret(start_receiver: StartReceiver) -> None:
    rx = start_receiver(secret=SECRET)
    body = b'{"type": "device.created"}'
    send(rx.url, body, headers=standard_headers(SECRET.encode("utf-8"), body))
    [block] = rx.blocks()
    assert block.rest[-2:] == ["Signature webhook-signature: valid", "Completed request #1"]


def test_standard_signature_valid_whsec_secret(start_receiver: StartReceiver) -> None:
    key = bytes(range(24))
    secret = "whsec_" + base64.b64encode(key).decode()
    rx = start_receiver(secret=secret)
    body = b'{"type": "device.created"}'
    headers = standard_headers(key, body)
    # Senders rotating keys list several signatures; one match is enough.
    headers["webhook-signature"] = "v1,AAAA v1a,whatever " + headers["webhook-signature"]
    send(rx.url, body, headers=headers)
    [block] = rx.blocks()
    assert block.rest[-2:] == ["Signature webhook-signature: valid", "Completed request #1"]


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp", "key", "garbage"])
def test_standard_signature_invalid(start_receiver: StartReceiver, tamper: str) -> None:
    rx = start_receiver(secret=SECRET)
    body = b'{"type": "device.created"}'
    key = b"wrong key" if tamper == "key" else SECRET.encode("utf-8")
    headers = standard_headers(key, body)
    if tamper == "id":
        headers["webhook-id"] = "msg_2"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) + 1)
    elif tamper == "garbage":
        headers["webhook-signature"] = "not a signature ünicode"
    send(rx.url, b"tampered" if tamper == "body" else body, headers=headers)
    [block] = rx.blocks()
    assert block.rest[-2:] == ["Signature webhook-signature: INVALID", "Completed request #1"]


def test_both_schemes_get_a_verdict_each(start_receiver: StartReceiver) -> None:
    rx = start_receiver(secret=SECRET)
    body = b'{"both": true}'
    headers = standard_headers(SECRET.encode("utf-8"), body)
    headers["X-Hook-Signature"] = netbox_sig("wrong", body)
    send(rx.url, body, headers=headers)
    [block] = rx.blocks()
    assert block.rest == [
        "{",
        '    "both": true',
        "}",
        "Signature X-Hook-Signature: INVALID",
        "Signature webhook-signature: valid",
        "Completed request #1",
    ]


def test_standard_signature_from_reference_library(start_receiver: StartReceiver) -> None:
    standardwebhooks = pytest.importorskip("standardwebhooks")
    secret = "whsec_" + base64.b64encode(b"reference-library-key-32-bytes!!").decode()
    rx = start_receiver(secret=secret)
    body = '{"type": "invoice.paid", "amount": 42}'
    now = datetime.now(UTC).replace(microsecond=0)
    signature = standardwebhooks.Webhook(secret).sign("msg_ref", now, body)
    headers = {
        "webhook-id": "msg_ref",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    send(rx.url, body.encode(), headers=headers)
    send(rx.url, body.encode() + b" ", headers=headers)
    valid, tampered = rx.blocks()
    assert valid.rest[-2] == "Signature webhook-signature: valid"
    assert tampered.rest[-2] == "Signature webhook-signature: INVALID"


# --- serve() ------------------------------------------------------------------------------


def test_serve_prints_banner_and_exits_on_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bound: list[ReceiverServer] = []

    def interrupted(self: ReceiverServer) -> None:
        bound.append(self)
        # Requests must go to the stdout of the moment (captured here), not the one at import.
        assert self.out is sys.stdout
        raise KeyboardInterrupt

    monkeypatch.setattr(ReceiverServer, "serve_forever", interrupted)
    serve("127.0.0.1", 0, None)

    [server] = bound
    port = server.server_address[1]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Listening on http://127.0.0.1:{port}. Stop with CONTROL-C."
    assert lines[-1] == "Exiting..."
    assert server.socket.fileno() == -1  # closed on the way out
