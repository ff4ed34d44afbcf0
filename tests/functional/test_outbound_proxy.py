"""Deliveries through a forward HTTP proxy (HOOKHUB_OUTBOUND_PROXY, HTTP(S)_PROXY, NO_PROXY),
from event to attempt, with a real proxy (tests/support/proxy.py) on 127.0.0.1.

The test's own API clients (httpx) read the proxy variables too: they call hookhub at
127.0.0.1, which NO_PROXY lists whenever HTTP_PROXY is set; receivers are called `localhost`.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme

from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.functional.test_retry_policy import EVENT, first_delivery, webhook
from tests.support.proxy import ForwardProxy
from tests.support.receiver import Receiver
from tests.support.server import free_port

CREDENTIALS = ("hookhub", "s3cret")
FINAL = ("succeeded", "failed")
PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    started = await ForwardProxy(credentials=CREDENTIALS).start()
    yield started
    await started.stop()


@pytest.fixture
def environment(
    request: pytest.FixtureRequest, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The proxy variables of this test (indirect parameter; `{proxy}` is the proxy's URL)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    values: dict[str, str] = getattr(request, "param", {})
    userinfo = ":".join(CREDENTIALS)
    for name, value in values.items():
        monkeypatch.setenv(name, value.format(proxy=proxy.url(userinfo)))
    return values


@pytest.fixture
def outbound_proxy(request: pytest.FixtureRequest, proxy: ForwardProxy) -> str:
    """HOOKHUB_OUTBOUND_PROXY (indirect parameter; `{proxy}`: the proxy's URL with its
    credentials, `{closed}`: a port nothing listens on)."""
    value: str = getattr(request, "param", "")
    return value.format(proxy=proxy.url(":".join(CREDENTIALS)), closed=free_port())


@pytest.fixture
def settings(settings: Settings, environment: dict[str, str], outbound_proxy: str) -> Settings:
    # The environment is read when hookhub starts: after `environment` set it.
    return replace(settings, outbound_proxy=outbound_proxy)


@pytest.fixture
def pki(tmp_path: Path) -> Iterator[tuple[ssl.SSLContext, str]]:
    """A server context for `localhost` and the file of the CA that signed it."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    yield server, str(tmp_path / "ca.pem")


async def _deliver(hookhub: Hookhub, url: str, **fields: Any) -> dict[str, Any]:
    webhook_id = await webhook(hookhub, url, retry={"max_attempts": 1}, **fields)
    assert (await hookhub.admin.post("/events", json=EVENT)).status_code == 202
    return await first_delivery(hookhub, webhook_id, lambda d: d["status"] in FINAL)


def _local(receiver: Receiver, path: str = "/hook") -> str:
    return receiver.url.replace("127.0.0.1", "localhost") + path


BASIC = "Basic aG9va2h1YjpzM2NyZXQ="  # hookhub:s3cret


@pytest.mark.parametrize(
    "environment", [{"HTTP_PROXY": "{proxy}", "NO_PROXY": "127.0.0.1"}], indirect=True
)
async def test_an_http_delivery_goes_through_http_proxy_in_absolute_form(
    hookhub: Hookhub, proxy: ForwardProxy, receiver: Receiver
) -> None:
    delivery = await _deliver(hookhub, _local(receiver, "/hook?x=1"))
    assert delivery["status"] == "succeeded", delivery
    assert [(r.method, r.target, r.authorization) for r in proxy.relayed] == [
        ("POST", _local(receiver, "/hook?x=1"), BASIC)
    ]
    [received] = receiver.requests
    assert received.path == "/hook?x=1"
    assert "Proxy-Authorization" not in received.headers  # for the proxy, not the receiver


@pytest.mark.parametrize("environment", [{"https_proxy": "{proxy}"}], indirect=True)
async def test_an_https_delivery_goes_through_a_connect_tunnel(
    hookhub: Hookhub, proxy: ForwardProxy, pki: tuple[ssl.SSLContext, str]
) -> None:
    server_context, ca_file = pki
    receiver = await Receiver(ssl_context=server_context).start()
    try:
        url = _local(receiver)
        delivery = await _deliver(hookhub, url, ca_file_path=ca_file)
        assert delivery["status"] == "succeeded", delivery
        assert [(r.method, r.target) for r in proxy.relayed] == [
            ("CONNECT", f"localhost:{receiver.port}")
        ]
        assert [r.path for r in receiver.requests] == ["/hook"]
        # An http:// target has no proxy: HTTPS_PROXY is for https:// targets only.
        plain = await Receiver().start()
        try:
            delivery = await _deliver(hookhub, _local(plain), name="plain")
            assert delivery["status"] == "succeeded", delivery
            assert len(proxy.relayed) == 1 and len(plain.requests) == 1
        finally:
            await plain.stop()
    finally:
        await receiver.stop()


@pytest.mark.parametrize(
    "environment",
    [{"HTTP_PROXY": "{proxy}", "HTTPS_PROXY": "{proxy}", "NO_PROXY": "127.0.0.1, .localhost"}],
    indirect=True,
)
async def test_no_proxy_hosts_are_sent_to_directly(
    hookhub: Hookhub, proxy: ForwardProxy, receiver: Receiver
) -> None:
    delivery = await _deliver(hookhub, _local(receiver))
    assert delivery["status"] == "succeeded", delivery
    assert len(receiver.requests) == 1
    assert proxy.relayed == []


@pytest.mark.parametrize("outbound_proxy", ["{proxy}"], indirect=True)
async def test_the_setting_names_the_proxy_for_every_target(
    hookhub: Hookhub, proxy: ForwardProxy, receiver: Receiver
) -> None:
    delivery = await _deliver(hookhub, _local(receiver))
    assert delivery["status"] == "succeeded", delivery
    assert [(r.method, r.authorization) for r in proxy.relayed] == [("POST", BASIC)]
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "outbound_proxy", ["http://hookhub:s3cret@127.0.0.1:{closed}"], indirect=True
)
async def test_a_proxy_failure_is_recorded_with_its_password_masked(
    hookhub: Hookhub, receiver: Receiver, outbound_proxy: str
) -> None:
    delivery = await _deliver(hookhub, _local(receiver))
    assert delivery["status"] == "failed"
    masked = outbound_proxy.replace("s3cret", "********")
    assert delivery["last_error"] == f"Cannot connect to proxy {masked} (Connection refused)"
    attempts = (await hookhub.admin.get(f"/deliveries/{delivery['id']}/attempts")).json()
    assert "s3cret" not in str(attempts)
    assert receiver.requests == []
