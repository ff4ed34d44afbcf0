"""Which proxy a request goes through: the setting, the environment (either case), NO_PROXY."""

from __future__ import annotations

import pytest

from hookhub.core.proxies import Proxies
from hookhub.errors import ConfigError
from hookhub.settings import Settings


def test_the_environment_names_a_proxy_per_target_scheme() -> None:
    proxies = Proxies.from_environ({"HTTP_PROXY": "http://a:3128", "https_proxy": "b:8080"})
    assert (proxies.http, proxies.https) == ("http://a:3128", "http://b:8080")
    assert proxies.for_target(False, "example.com", 80) == "http://a:3128"
    assert proxies.for_target(True, "example.com", 443) == "http://b:8080"
    # Lower case wins over upper case, as in requests and httpx (urllib).
    both = Proxies.from_environ({"http_proxy": "http://low:1", "HTTP_PROXY": "http://UP:1"})
    assert both.http == "http://low:1" and both.https is None
    assert not Proxies.from_environ({}).active


def test_the_setting_names_one_proxy_for_every_target() -> None:
    environ = {"HTTP_PROXY": "http://env:1", "NO_PROXY": "internal.example"}
    proxies = Proxies.from_environ(environ, "http://u:p@setting:3128")
    assert proxies.http == proxies.https == "http://u:p@setting:3128"
    assert proxies.for_target(True, "api.internal.example", 443) is None  # NO_PROXY still holds


@pytest.mark.parametrize(
    ("entry", "bypassed", "kept"),
    [
        ("*", ["example.com", "10.1.2.3"], []),
        ("example.com", ["example.com", "api.example.com", "EXAMPLE.com."], ["notexample.com"]),
        (".example.com", ["example.com", "a.b.example.com"], ["example.org"]),
        ("*.example.com", ["api.example.com"], ["example.org"]),
        ("10.0.0.0/8, 192.0.2.7", ["10.1.2.3", "192.0.2.7"], ["192.0.2.8", "ten.example"]),
        ("::1, fd00::/8, [::3]:80", ["[::1]", "fd12::1", "::3"], ["::2"]),
        ("example.com:8443", ["example.com"], []),
    ],
)
def test_no_proxy_entries(entry: str, bypassed: list[str], kept: list[str]) -> None:
    proxies = Proxies.from_environ({"HTTP_PROXY": "http://p:1", "no_proxy": entry})
    for host in bypassed:
        port = 8443 if ":8443" in entry else 80
        assert proxies.for_target(False, host, port) is None, host
    for host in kept:
        assert proxies.for_target(False, host, 80) == "http://p:1", host
    if ":8443" in entry:
        assert proxies.for_target(False, "example.com", 80) == "http://p:1"


def test_a_proxy_hookhub_cannot_use_stops_it_at_start_with_credentials_masked() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"HOOKHUB_OUTBOUND_PROXY": "socks5://u:s3cret@p:1080"})
    assert str(raised.value) == (
        "HOOKHUB_OUTBOUND_PROXY must be an http:// proxy URL (http://[user:password@]host:port),"
        " got 'socks5://u:********@p:1080'"
    )
    with pytest.raises(ConfigError, match=r"^HTTPS_PROXY must be an http:// proxy URL"):
        Settings.from_env({"https_proxy": "https://p:1"})
    settings = Settings.from_env({"HOOKHUB_OUTBOUND_PROXY": "p:3128"})
    assert settings.outbound_proxy == "p:3128"
    assert settings.proxies({}).http == "http://p:3128"
