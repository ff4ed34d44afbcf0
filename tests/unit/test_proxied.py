"""The aiohttp transport through a forward proxy: absolute form, CONNECT, proxy credentials, and
the network policy applied to the target, not to the proxy. (Its behaviour without a proxy is
the transport contract: test_http_client.py.)"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest

from hookhub.core.policy import NetworkPolicy, PolicyRefused, parse_networks
from hookhub.outbound.proxied import AiohttpClient
from hookhub.outbound.transport import ConnectError
from tests.support.proxy import ForwardProxy
from tests.unit.test_http_client import RawServer, post, start_tls_server


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    started = await ForwardProxy(credentials=("u", "p@ss")).start()
    yield started
    await started.stop()


@pytest.fixture
async def tls_server() -> AsyncIterator[tuple[RawServer, ssl.SSLContext]]:
    raw, trusting = await start_tls_server()
    yield raw, trusting
    await raw.stop()


def deny(networks: str) -> NetworkPolicy:
    return NetworkPolicy(deny=parse_networks(networks, "HOOKHUB_OUTBOUND_DENY"))


async def test_the_policy_applies_to_the_target_not_to_the_proxy(proxy: ForwardProxy) -> None:
    # The proxy listens on 127.0.0.1, the receiver on 127.0.0.2.
    server = await RawServer(host="127.0.0.2").start()
    through = proxy.url("u:p%40ss")
    allowed = AiohttpClient("hookhub-test", policy=deny("127.0.0.1/32"), proxy=through)
    refused = AiohttpClient("hookhub-test", policy=deny("127.0.0.2/32"), proxy=through)
    try:
        response = await post(allowed, server.url("/hook?x=1"))
        assert (response.status, response.body) == (200, b"ok")
        assert [(r.method, r.target) for r in proxy.relayed] == [("POST", server.url("/hook?x=1"))]
        assert server.requests[0].startswith(b"POST /hook?x=1 HTTP/1.1\r\n")
        with pytest.raises(PolicyRefused, match=r"127\.0\.0\.2 is in 127\.0\.0\.2/32"):
            await post(refused, server.url())
        assert len(proxy.relayed) == 1  # the proxy was not asked
    finally:
        for client in (allowed, refused):
            await client.close()
        await server.stop()


async def test_https_goes_through_a_connect_tunnel(
    proxy: ForwardProxy, tls_server: tuple[RawServer, ssl.SSLContext]
) -> None:
    server, trusting = tls_server
    client = AiohttpClient("hookhub-test", proxy=proxy.url("u:p%40ss"))
    try:
        assert (await post(client, server.url(), tls=trusting)).body == b"ok"
        with pytest.raises(ConnectError, match="certificate verify failed"):
            await post(client, server.url(), tls=True)  # TLS is end to end: the receiver's
    finally:
        await client.close()
    assert [(r.method, r.target) for r in proxy.relayed] == [
        ("CONNECT", f"127.0.0.1:{server.port}")
    ] * 2
    assert proxy.relayed[0].authorization == "Basic dTpwQHNz"  # u:p@ss


async def test_a_refused_tunnel_names_the_proxy_with_its_password_masked(
    proxy: ForwardProxy, tls_server: tuple[RawServer, ssl.SSLContext]
) -> None:
    server, trusting = tls_server
    client = AiohttpClient("hookhub-test", proxy=proxy.url("u:wrong"))
    try:
        with pytest.raises(ConnectError) as raised:
            await post(client, server.url(), tls=trusting)
    finally:
        await client.close()
    assert str(raised.value) == (
        f"Cannot connect to host 127.0.0.1:{server.port} (the proxy"
        f" http://u:********@127.0.0.1:{proxy.port} answered 407 Proxy Authentication Required)"
    )
    assert server.connections == 0
