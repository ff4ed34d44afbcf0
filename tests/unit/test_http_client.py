"""The outbound transports' contract, against raw local servers: framing, keep-alive, limits,
TLS, errors. Every test runs against each transport: the lean client (http.py) and aiohttp
(proxied.py, here without a proxy); where the two differ, the test says how and why."""

from __future__ import annotations

import asyncio
import gzip
import re
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest
import trustme

from hookhub.core.policy import NetworkPolicy, PolicyRefused, parse_networks
from hookhub.outbound import http
from hookhub.outbound.dns import Found, Lookup
from hookhub.outbound.http import HttpClient
from hookhub.outbound.proxied import AiohttpClient
from hookhub.outbound.transport import (
    ConnectError,
    ProtocolError,
    Response,
    ServerDisconnected,
    Transport,
)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
RESET = b"<reset>"  # an answer that drops the connection with a TCP RST
LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
Answer = Callable[[int], Awaitable[bytes | None]]


def always(reply: bytes | None) -> Answer:
    async def answer(_: int) -> bytes | None:
        return reply

    return answer


@dataclass
class RawServer:
    """Answers the n-th request (from 1) with `answer(n)`'s bytes, or closes when it gives None."""

    answer: Answer = field(default_factory=lambda: always(OK))
    ssl_context: ssl.SSLContext | None = None
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    port: int = 0
    host: str = "127.0.0.1"
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    def url(self, path: str = "/hook") -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = LENGTH.search(head)
                    body = await reader.readexactly(int(length[1]) if length else 0)
                except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
                    break
                self.requests.append(head + body)
                reply = await self.answer(len(self.requests))
                if reply is None:
                    break
                if reply is RESET:
                    linger = struct.pack("ii", 1, 0)  # closing sends RST
                    writer.get_extra_info("socket").setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, linger
                    )
                    writer.transport.abort()
                    break
                writer.write(reply)
                await writer.drain()
                if b"connection: close" in reply.lower():
                    break
        finally:
            self.open_now -= 1
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    raw = await RawServer().start()
    yield raw
    await raw.stop()


Make = Callable[..., Transport]
TRANSPORTS: dict[str, type[HttpClient] | type[AiohttpClient]] = {
    "lean": HttpClient,
    "aiohttp": AiohttpClient,
}


@pytest.fixture(params=list(TRANSPORTS))
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    """Builds the transport under test with the given options; closes what it built."""
    made: list[Transport] = []

    def build(
        limit: int = 100,
        body_limit: int = 64 * 1024,
        policy: NetworkPolicy | None = None,
        lookup: Lookup | None = None,
    ) -> Transport:
        transport = TRANSPORTS[request.param]("hookhub-test", limit, body_limit, policy, lookup)
        made.append(transport)
        return transport

    yield build
    for transport in made:
        await transport.close()


@pytest.fixture
async def client(make: Make) -> Transport:
    return make(limit=4, body_limit=1000)


def lean(client: Transport) -> bool:
    return isinstance(client, HttpClient)


async def post(
    client: Transport,
    url: str,
    headers: dict[str, str] | None = None,
    tls: ssl.SSLContext | bool = True,
) -> Response:
    headers = {"Content-Type": "application/json"} if headers is None else headers
    return await client.request("POST", url, headers, b'{"a": 1}', 5.0, tls)


async def test_requests_share_a_kept_alive_connection(client: Transport, server: RawServer) -> None:
    for _ in range(3):
        response = await post(client, server.url("/hook?x=1"))
        assert (response.status, response.body) == (200, b"ok")
    assert server.connections == 1
    head = server.requests[0].decode()
    assert head.startswith("POST /hook?x=1 HTTP/1.1\r\n")
    for line in (
        f"Host: 127.0.0.1:{server.port}",
        "User-Agent: hookhub-test",
        "Content-Length: 8",
        "Accept: */*",
        "Content-Type: application/json",
    ):
        assert f"\r\n{line}\r\n" in head
    assert head.endswith('\r\n\r\n{"a": 1}')


async def test_request_headers_override_the_defaults(client: Transport, server: RawServer) -> None:
    await post(client, server.url(), headers={"accept": "text/plain", "USER-AGENT": "mine"})
    head = server.requests[0].decode().lower()
    assert head.count("accept:") == 1 and "\r\naccept: text/plain\r\n" in head
    assert head.count("user-agent:") == 1 and "\r\nuser-agent: mine\r\n" in head


async def test_a_stale_pooled_connection_is_retried_once_on_a_new_one(
    client: Transport, server: RawServer
) -> None:
    async def answer(n: int) -> bytes | None:
        return None if n == 2 else OK  # the 2nd request finds its connection closed

    server.answer = answer
    assert (await post(client, server.url())).status == 200
    assert (await post(client, server.url())).status == 200
    assert (server.connections, len(server.requests)) == (2, 3)


async def test_a_reset_after_the_request_was_read_is_not_retried(
    client: Transport, server: RawServer
) -> None:
    async def answer(n: int) -> bytes | None:
        return RESET if n == 2 else OK  # the receiver may have acted on the request

    server.answer = answer
    assert (await post(client, server.url())).status == 200
    with pytest.raises(ServerDisconnected, match="Connection reset by peer"):
        await post(client, server.url())
    assert (server.connections, len(server.requests)) == (1, 2)


async def test_a_new_connection_closed_without_an_answer_is_not_retried(
    client: Transport, server: RawServer
) -> None:
    server.answer = always(None)
    with pytest.raises(ServerDisconnected, match=r"^Server disconnected$"):
        await post(client, server.url())
    assert (server.connections, len(server.requests)) == (1, 1)


async def test_chunked_body(client: Transport, server: RawServer) -> None:
    server.answer = always(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    for _ in range(2):
        assert (await post(client, server.url())).body == b"hello world"
    assert server.connections == 1


@pytest.mark.parametrize("version", [b"1.1", b"1.0"])
async def test_a_body_without_length_ends_when_the_server_closes(
    client: Transport, server: RawServer, version: bytes
) -> None:
    server.answer = always(b"HTTP/%s 200 OK\r\nConnection: close\r\n\r\nuntil the end" % version)
    for _ in range(2):
        response = await post(client, server.url())
        assert (response.status, response.body) == (200, b"until the end")
    assert server.connections == 2


async def test_a_body_over_the_limit_is_cut_and_its_connection_dropped(
    client: Transport, server: RawServer
) -> None:
    server.answer = always(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
    for _ in range(2):
        assert (await post(client, server.url())).body == b"x" * 1000
    # aiohttp reads ahead: a body it had whole when cut leaves a clean connection, kept.
    assert server.connections == 2 if lean(client) else server.connections in (1, 2)


async def test_gzip_bodies_are_decoded_within_the_limit(
    client: Transport, server: RawServer
) -> None:
    small, large = gzip.compress(b"decoded"), gzip.compress(b"z" * 100_000)
    answers = iter([small, large])

    async def answer(_: int) -> bytes:
        body = next(answers)
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    server.answer = answer
    assert (await post(client, server.url())).body == b"decoded"
    assert (await post(client, server.url())).body == b"z" * 1000
    assert b"accept-encoding" not in server.requests[0].lower()


async def test_interim_responses_are_skipped(client: Transport, server: RawServer) -> None:
    server.answer = always(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nX-Id: 1\r\nX-Id: 2\r\nContent-Length: 4\r\n\r\ndone"
    )
    response = await post(client, server.url())
    assert (response.status, response.body) == (201, b"done")
    assert response.headers == {"X-Id": "1, 2", "Content-Length": "4"}


async def test_repeated_headers_are_joined_in_order(client: Transport, server: RawServer) -> None:
    server.answer = always(
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nContent-Length: 2\r\nset-cookie: b=2\r\n"
        b"Vary: Accept\r\nVARY: Origin\r\n\r\nok"
    )
    response = await post(client, server.url())
    assert response.headers == {
        "Set-Cookie": "a=1, b=2",
        "Content-Length": "2",
        "Vary": "Accept, Origin",
    }


async def test_a_head_answer_ends_with_its_headers(client: Transport, server: RawServer) -> None:
    # It announces the length a GET would have, and sends no body: waiting for one would hang.
    server.answer = always(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-A: 1\r\n\r\n")
    for _ in range(2):
        response = await client.request("HEAD", server.url(), {}, b"", 5.0)
        assert (response.status, response.headers["X-A"], response.body) == (200, "1", b"")
    assert server.connections == 1
    assert server.requests[0].startswith(b"HEAD /hook HTTP/1.1\r\n")


def _head(*lines: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + b"".join(line + b"\r\n" for line in lines)


def _many(count: int, size: int = 10) -> list[bytes]:
    return [b"X-%06d: %s" % (n, b"v" * (size - 9)) for n in range(count)]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        # 200,000 headers (2.4 MB): failed at the 101st, not stored.
        (_head(*_many(200_000)) + b"\r\n", "response has more than 100 headers"),
        (_head(b"X-Big: " + b"v" * 9000) + b"\r\n", "response has a header over 8192 bytes"),
        (_head(*_many(90, 1000)) + b"\r\n", "response headers exceed 65536 bytes"),
        # Lines that never end: the parser would hold them until the timeout.
        (_head(b"X-Endless: " + b"v" * 1_000_000), "response headers exceed 65536 bytes"),
        (b"HTTP/1.1 200 " + b"O" * 1_000_000, "response headers exceed 65536 bytes"),
        (b"HTTP/1.1 100 Continue\r\n\r\n" * 10_000, "response headers exceed 65536 bytes"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"
            + b"X-Trailer: "
            + b"v" * 1_000_000,
            "response headers exceed 65536 bytes",
        ),
    ],
    ids=["count", "line", "total", "endless-header", "endless-status", "interims", "trailer"],
)
async def test_response_headers_are_bounded(
    client: Transport, server: RawServer, reply: bytes, error: str, request: pytest.FixtureRequest
) -> None:
    case = request.node.callspec.id.split("-", 1)[1]
    if not lean(client):
        # aiohttp bounds the number of headers and each line (100 x 8 KiB at most), not their
        # total, and skips interim responses until the timeout; it words its own errors.
        if case in ("total", "interims"):
            pytest.skip("aiohttp bounds the headers' number and size, not their total")
        error = "invalid HTTP response: .*"
    server.answer = always(reply)
    with pytest.raises(ProtocolError, match=f"^{error}$"):
        await post(client, server.url())
    # The connection was closed: the rest of the answer is never read.
    if isinstance(client, HttpClient):
        assert not client._open
    server.answer = always(OK)
    assert (await post(client, server.url())).status == 200
    assert server.connections == 2


async def test_headers_up_to_the_limits_are_read(client: Transport, server: RawServer) -> None:
    lines = [b"Content-Length: 2", b"X-Line: " + b"v" * (8192 - 6), *_many(98, 500)]
    server.answer = always(_head(*lines) + b"\r\nok")
    response = await post(client, server.url())
    assert (response.status, response.body, len(response.headers)) == (200, b"ok", 100)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-A": "1\r\nX-Injected: 1"},
        {"X-A": "1\nGET / HTTP/1.1"},
        {"X-A": "\x00"},
        {"Bad Name": "1"},
    ],
)
async def test_header_injection_is_refused(
    client: Transport, server: RawServer, headers: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="header"):
        await post(client, server.url(), headers=headers)
    assert server.connections == 0


async def test_the_timeout_covers_the_wait_for_an_answer(
    client: Transport, server: RawServer
) -> None:
    never = asyncio.Event()

    async def answer(_: int) -> bytes | None:
        await never.wait()
        return None

    server.answer = answer
    with pytest.raises(TimeoutError):
        await client.request("POST", server.url(), {}, b"", 0.2)
    never.set()


async def test_an_answered_request_keeps_its_connection_past_its_deadline(
    client: Transport, server: RawServer
) -> None:
    # A deadline a loaded machine still meets, then a wait past it (it is the point).
    response = await client.request("POST", server.url(), {}, b"", 1.0)
    await asyncio.sleep(1.0 + http.DEADLINE_GRID)
    again = await client.request("POST", server.url(), {}, b"", 1.0)
    assert (response.status, again.status) == (200, 200)
    assert server.connections == 1


async def test_timeouts_fire_within_a_grid_step_of_their_deadline(
    client: Transport, server: RawServer
) -> None:
    never = asyncio.Event()

    async def answer(n: int) -> bytes | None:
        if n > 1:
            await never.wait()
        return OK

    server.answer = answer
    await client.request("POST", server.url(), {}, b"", 1.0)  # a pooled connection to reuse
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def timed_out_after(timeout: float) -> float:
        with pytest.raises(TimeoutError):
            await client.request("POST", server.url(), {}, b"", timeout)
        return loop.time() - started

    # The first reuses the pooled connection, the second opens one.
    pooled, fresh = await asyncio.gather(timed_out_after(0.1), timed_out_after(0.3))
    late = http.DEADLINE_GRID + 0.1  # the grid, plus this machine's scheduling noise
    assert 0.1 <= pooled < 0.1 + late
    assert 0.3 <= fresh < 0.3 + late
    never.set()


async def test_refused_connections_name_the_host_and_the_reason(client: Transport) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free once closed, and nothing listens there
    with pytest.raises(ConnectError) as raised:
        await post(client, f"http://127.0.0.1:{port}/")
    assert str(raised.value) == f"Cannot connect to host 127.0.0.1:{port} (Connection refused)"


async def test_connections_stay_within_the_limit(make: Make, server: RawServer) -> None:
    release = asyncio.Event()

    async def answer(_: int) -> bytes:
        await release.wait()
        return OK

    server.answer = answer
    limited = make(limit=2)
    try:
        sends = [asyncio.create_task(post(limited, server.url())) for _ in range(6)]
        while len(server.requests) < 2:
            await asyncio.sleep(0.01)
        release.set()
        assert [r.status for r in await asyncio.gather(*sends)] == [200] * 6
        assert server.most_open == 2
        # To make room for a connection to another host, an idle one is closed.
        await post(limited, server.url().replace("127.0.0.1", "localhost"))
        if isinstance(limited, HttpClient):
            assert len(limited._open) == 2
    finally:
        await limited.close()


async def test_idle_connections_expire(
    client: Transport, server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not lean(client):
        pytest.skip("aiohttp's pool reads IDLE_TIMEOUT once; the next test covers its expiry")
    await post(client, server.url())
    monkeypatch.setattr(http, "IDLE_TIMEOUT", 0.0)
    await post(client, server.url())  # the pooled connection is too old to be used
    assert server.connections == 2


async def test_idle_connections_are_closed_without_a_request_to_notice(
    client: Transport, server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "IDLE_TIMEOUT", 0.05)
    await post(client, server.url())
    while server.open_now:  # until the pool's sweep closes it
        await asyncio.sleep(0.01)
    await post(client, server.url())
    assert server.connections == 2


async def test_the_policy_refuses_resolved_and_literal_addresses(
    make: Make, server: RawServer
) -> None:
    loopback = NetworkPolicy(deny=parse_networks("loopback", "DENY"))
    refusing = make(policy=loopback)
    with pytest.raises(PolicyRefused, match=r"^refused by the outbound network policy: "):
        await post(refusing, server.url().replace("127.0.0.1", "localhost"))
    with pytest.raises(PolicyRefused, match=r"127\.0\.0\.1 is in 127\.0\.0\.0/8"):
        await post(refusing, server.url())
    assert server.connections == 0


async def start_tls_server() -> tuple[RawServer, ssl.SSLContext]:
    """A TLS server for 127.0.0.1, and a client context that trusts its certificate."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    return await RawServer(ssl_context=server_context).start(), trusting


@pytest.fixture
async def tls_server() -> AsyncIterator[tuple[RawServer, ssl.SSLContext]]:
    raw, trusting = await start_tls_server()
    yield raw, trusting
    await raw.stop()


async def test_tls_checks_the_certificate_unless_told_not_to(
    client: Transport, tls_server: tuple[RawServer, ssl.SSLContext]
) -> None:
    server, trusting = tls_server
    assert (await post(client, server.url(), tls=trusting)).body == b"ok"
    assert (await post(client, server.url(), tls=False)).body == b"ok"
    with pytest.raises(ConnectError, match="certificate verify failed"):
        await post(client, server.url(), tls=True)
    # One connection per TLS setting; the refused handshake never reached the server's handler.
    assert (server.connections, len(server.requests)) == (2, 2)


@pytest.fixture
def black_hole(server: RawServer) -> Iterator[str]:
    """127.0.0.2 on the server's port, listening with its accept queue full: SYNs go unanswered."""
    hole = socket.socket()
    fillers: list[socket.socket] = []
    try:
        hole.bind(("127.0.0.2", server.port))
        hole.listen(0)
        while True:  # fill the queue until a connection attempt is no longer answered
            filler = socket.socket()
            fillers.append(filler)
            filler.settimeout(0.2)
            try:
                filler.connect(("127.0.0.2", server.port))
            except TimeoutError:
                break
        yield "127.0.0.2"
    finally:
        for sock in (*fillers, hole):
            sock.close()


async def test_an_address_that_drops_connections_costs_a_delay_not_the_timeout(
    make: Make, server: RawServer, black_hole: str
) -> None:
    async def lookup(host: str, port: int) -> list[Found]:
        assert host == "hookhub.test"
        live = "127.0.0.1"
        return [Found(socket.AF_INET, (a, port), 60.0) for a in (black_hole, live)]

    # Without a race, the first address would eat the whole timeout.
    response = await post(make(lookup=lookup), f"http://hookhub.test:{server.port}/hook")
    assert response.status == 200
