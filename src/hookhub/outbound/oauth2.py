"""OAuth2 client credentials (RFC 6749 §4.4): the token request, its answer, a token cache.

The Sender (client.py) does the HTTP; this module says what to send, reads the answer and keeps
one token per client, so that concurrent deliveries share one token request.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote_plus, urlencode

import orjson

EXPIRY_MARGIN = 30.0  # seconds: a token is renewed this long before the server says it expires
DEFAULT_LIFETIME = 300.0  # seconds: how long a token without `expires_in` is used
ERROR_TEXT_LIMIT = 200  # characters of a refused token request's answer quoted in the error
TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: anything else cannot go in a header

Key = tuple[str, str, str, str | None, str | None]
Fetch = Callable[[], Awaitable[tuple[str, float]]]


class TokenError(Exception):
    """A token request failed; the message names the token URL and the reason."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"oauth2 token request to {url} failed: {reason}")


def token_request(auth: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
    """The headers and form body of a client-credentials token request for `auth`."""
    # RFC 6749 §2.3.1: HTTP Basic, with the id and secret form-encoded first.
    pair = f"{quote_plus(auth['client_id'])}:{quote_plus(auth['client_secret'])}"
    headers = {
        "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    form = {"grant_type": "client_credentials"}
    for name in ("scope", "audience"):
        if auth.get(name):
            form[name] = auth[name]
    return headers, urlencode(form).encode()


def parse_token(url: str, status: int, body: bytes) -> tuple[str, float]:
    """(access token, lifetime in seconds) from a token endpoint's answer, or TokenError."""
    if not 200 <= status < 300:
        text = body.decode("utf-8", errors="replace")[:ERROR_TEXT_LIMIT]
        raise TokenError(url, f"{status} {text}".strip())
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        answer = {}
    token = answer.get("access_token")
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        # The body is not quoted: a 2xx answer may hold a credential under another name.
        raise TokenError(url, f"{status} answer has no usable access_token")
    try:
        lifetime = float(answer.get("expires_in", DEFAULT_LIFETIME))
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME
    return token, lifetime if math.isfinite(lifetime) and lifetime >= 0 else DEFAULT_LIFETIME


def _key(auth: Mapping[str, Any]) -> Key:
    # The secret's digest is part of the key: a changed or mistyped secret must not borrow a
    # token that another secret obtained.
    secret = hashlib.sha256(auth["client_secret"].encode()).hexdigest()
    return (auth["token_url"], auth["client_id"], secret, auth.get("scope"), auth.get("audience"))


class TokenCache:
    """Access tokens per client, renewed before they expire; one token request at a time each."""

    def __init__(self) -> None:
        self._tokens: dict[Key, tuple[str, float]] = {}  # token, monotonic time it is renewed
        self._pending: dict[Key, asyncio.Task[str]] = {}

    async def token(self, auth: Mapping[str, Any], fetch: Fetch) -> str:
        """The cached token for `auth`, or one from `fetch`, shared by every caller waiting."""
        key = _key(auth)
        cached = self._tokens.get(key)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        task = self._pending.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, fetch))
            self._pending[key] = task
            task.add_done_callback(functools.partial(self._settled, key))
        # Shielded: a caller that gives up (its own deadline) leaves the request to the others.
        return await asyncio.shield(task)

    def discard(self, auth: Mapping[str, Any], token: str) -> None:
        """Forget `token`, refused by a receiver, unless a newer one has replaced it already."""
        key = _key(auth)
        cached = self._tokens.get(key)
        if cached is not None and cached[0] == token:
            del self._tokens[key]

    async def _fetch(self, key: Key, fetch: Fetch) -> str:
        token, lifetime = await fetch()
        renew_in = lifetime - min(EXPIRY_MARGIN, lifetime / 2)
        self._tokens[key] = (token, time.monotonic() + renew_in)
        return token

    def _settled(self, key: Key, task: asyncio.Task[str]) -> None:
        if self._pending.get(key) is task:
            del self._pending[key]
        if not task.cancelled():
            task.exception()  # retrieved even when every waiter gave up before the answer
