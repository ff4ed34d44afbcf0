"""OAuth2 client credentials: the token request, reading the answer, and the shared token cache."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import parse_qs

import pytest

from hookhub.outbound.oauth2 import (
    DEFAULT_LIFETIME,
    TokenCache,
    TokenError,
    parse_token,
    token_request,
)

URL = "http://127.0.0.1:8080/token"
AUTH = {"type": "oauth2", "token_url": URL, "client_id": "hookhub", "client_secret": "s3cret"}


def test_token_request_is_form_encoded_with_basic_client_auth() -> None:
    auth = {**AUTH, "client_id": "my app", "client_secret": "p:w/d", "scope": "read write"}
    headers, body = token_request({**auth, "audience": "https://api.example"})
    # RFC 6749 §2.3.1: id and secret are form-encoded before they go into Basic auth.
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"my+app:p%3Aw%2Fd").decode()
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(body.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["read write"],
        "audience": ["https://api.example"],
    }
    _, minimal = token_request(AUTH)
    assert minimal == b"grant_type=client_credentials"


def test_parse_token_reads_the_token_and_its_lifetime() -> None:
    assert parse_token(URL, 200, b'{"access_token": "t1", "expires_in": 3600}') == ("t1", 3600.0)
    # Some servers send expires_in as a string, others leave it out.
    assert parse_token(URL, 200, b'{"access_token": "t1", "expires_in": "60"}') == ("t1", 60.0)
    assert parse_token(URL, 200, b'{"access_token": "t1"}') == ("t1", DEFAULT_LIFETIME)
    assert parse_token(URL, 200, b'{"access_token": "t1", "expires_in": -5}')[1] == 300.0


def test_a_refused_token_request_quotes_the_answer() -> None:
    with pytest.raises(TokenError) as caught:
        parse_token(URL, 401, b'{"error":"invalid_client"}')
    assert str(caught.value) == (
        f'oauth2 token request to {URL} failed: 401 {{"error":"invalid_client"}}'
    )


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"token": "leak-me"}', b'{"access_token": "a b"}']
)
def test_a_2xx_without_a_usable_token_is_an_error_that_quotes_nothing(body: bytes) -> None:
    with pytest.raises(TokenError, match="200 answer has no usable access_token") as caught:
        parse_token(URL, 200, body)
    assert "leak-me" not in str(caught.value)


class Server:
    """Stands in for the token endpoint: counts requests, answers after `delay`."""

    def __init__(self, lifetime: float = 3600.0, delay: float = 0.0) -> None:
        self.calls = 0
        self.lifetime = lifetime
        self.delay = delay
        self.fail = False

    async def fetch(self) -> tuple[str, float]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise TokenError(URL, "503 down")
        return f"token-{self.calls}", self.lifetime


async def test_concurrent_callers_share_one_token_request() -> None:
    cache, server = TokenCache(), Server(delay=0.05)
    tokens = await asyncio.gather(*(cache.token(AUTH, server.fetch) for _ in range(20)))
    assert set(tokens) == {"token-1"}
    assert server.calls == 1
    assert await cache.token(AUTH, server.fetch) == "token-1"
    assert server.calls == 1


async def test_a_token_is_renewed_before_it_expires() -> None:
    # 0.2 s lifetime: renewed after half of it (the margin is capped at half a lifetime).
    cache, server = TokenCache(), Server(lifetime=0.2)
    assert await cache.token(AUTH, server.fetch) == "token-1"
    assert await cache.token(AUTH, server.fetch) == "token-1"
    await asyncio.sleep(0.15)
    assert await cache.token(AUTH, server.fetch) == "token-2"


async def test_failures_are_shared_but_not_cached() -> None:
    cache, server = TokenCache(), Server(delay=0.05)
    server.fail = True
    results = await asyncio.gather(
        *(cache.token(AUTH, server.fetch) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, TokenError) for r in results)
    assert server.calls == 1
    server.fail = False
    assert await cache.token(AUTH, server.fetch) == "token-2"


async def test_a_caller_giving_up_leaves_the_request_to_the_others() -> None:
    cache, server = TokenCache(), Server(delay=0.1)
    impatient = asyncio.wait_for(cache.token(AUTH, server.fetch), 0.01)
    patient = cache.token(AUTH, server.fetch)
    results = await asyncio.gather(impatient, patient, return_exceptions=True)
    assert isinstance(results[0], TimeoutError)
    assert results[1] == "token-1"
    assert server.calls == 1


async def test_discard_forgets_only_the_refused_token() -> None:
    cache, server = TokenCache(), Server()
    first = await cache.token(AUTH, server.fetch)
    cache.discard(AUTH, "some older token")
    assert await cache.token(AUTH, server.fetch) == first
    cache.discard(AUTH, first)
    assert await cache.token(AUTH, server.fetch) == "token-2"


async def test_tokens_are_kept_per_client_secret_and_scope() -> None:
    cache, server = TokenCache(), Server()
    assert await cache.token(AUTH, server.fetch) == "token-1"
    # A mistyped secret must not borrow the token another secret obtained.
    assert await cache.token({**AUTH, "client_secret": "typo"}, server.fetch) == "token-2"
    assert await cache.token({**AUTH, "scope": "admin"}, server.fetch) == "token-3"
    assert await cache.token(AUTH, server.fetch) == "token-1"
