"""The outbound client: one connection pool per process (http.py); outcomes, not exceptions.

A request whose `destination` is set goes to a message broker instead (outbound/destinations/:
one pooled connection per broker URL), with the same outcomes.

Receiver credentials that need the network are handled here too, so every caller of `send` gets
them: OAuth2 client-credentials tokens (oauth2.py) and mTLS client certificates.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from errno import ECONNRESET
from typing import TYPE_CHECKING, Any

from hookhub.core.masking import mask_url
from hookhub.core.policy import NetworkPolicy
from hookhub.core.proxies import Proxies
from hookhub.errors import ValidationError
from hookhub.outbound import certs, destinations
from hookhub.outbound.http import HttpClient, parse_target
from hookhub.outbound.oauth2 import TokenCache, TokenError, parse_token, token_request
from hookhub.outbound.proxied import AiohttpClient
from hookhub.outbound.request import OutboundRequest as OutboundRequest
from hookhub.outbound.request import Route as Route
from hookhub.outbound.transport import ClientError, ServerDisconnected, Transport, tls_context
from hookhub.settings import Settings
from hookhub.version import __version__

if TYPE_CHECKING:
    from hookhub.outbound.destinations.base import Destination

USER_AGENT = f"hookhub/{__version__}"
# What a request can fail with short of a response (PolicyRefused is an OSError; ValueError: a
# URL or header that cannot be sent).
NETWORK_ERRORS = (TimeoutError, ClientError, OSError, ValueError)
ROUTES_KEPT = 1024  # target URLs whose proxy (or none) is remembered; emptied when full
PEM_READ_LIMIT = 1024 * 1024  # bytes of a certificate or key file read to check it
NO_CLIENT_CERTIFICATE = (
    " (a receiver that requires a client certificate drops connections without one:"
    " see client_cert_path)"
)


@dataclass(slots=True)  # not frozen: one per send (see hookhub.db.records)
class Outcome:
    """What happened to one request: a response, or the exact error that prevented one."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    duration_ms: float = 0.0
    # A broker confirmed the message (its ack, described in `body`); brokers give no status.
    confirmed: bool = False

    @property
    def ok(self) -> bool:
        """2xx or a broker's ack is success; anything else, or no answer, is a failed attempt."""
        return self.confirmed or (self.status is not None and 200 <= self.status < 300)


def describe_error(exc: BaseException, timeout: float) -> str:
    """A one-line, user-facing description of why a request got no response."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s"
    return str(exc) or type(exc).__name__


def _dropped(exc: BaseException) -> bool:
    """Whether the connection was reset, or closed before any byte of a response."""
    if isinstance(exc, ServerDisconnected) and not exc.answered:
        return True
    causes = (exc, exc.__cause__)
    return any(getattr(c, "errno", None) == ECONNRESET for c in causes) or any(
        isinstance(c, ConnectionResetError) for c in causes
    )


def check_client_certificate(cert: str, key: str | None) -> None:
    """Raise ValidationError unless `cert` and `key` (or the key in `cert`) load as a pair."""
    key_field = "client_key_path" if key else "client_cert_path"
    # OpenSSL says only "PEM lib" for most mistakes: name the likely ones first.
    try:
        if b"-----BEGIN CERTIFICATE-----" not in _head(cert):
            raise ValidationError(f"{cert} holds no PEM certificate", field="client_cert_path")
        if b"PRIVATE KEY-----" not in _head(key or cert):
            hint = "" if key else "; set client_key_path to the key's file"
            raise ValidationError(f"{key or cert} holds no PEM private key{hint}", field=key_field)
        tls_context(True, None, cert, key)
    except (ssl.SSLError, OSError, ValueError) as exc:
        mismatch = getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH"
        reason = "the private key does not match the certificate" if mismatch else str(exc)
        message = f"cannot use {cert} as client certificate: {reason}"
        raise ValidationError(message, field=key_field) from None


def _head(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read(PEM_READ_LIMIT)


def _mtime(path: str | None) -> int | None:
    return os.stat(path).st_mtime_ns if path else None


class Sender:
    """Sends requests over pooled connections; never raises for network or HTTP failures."""

    @classmethod
    def for_settings(cls, settings: Settings) -> Sender:
        """A sender with the process's concurrency, body limit, outbound network policy and
        proxies."""
        return cls(
            settings.concurrency,
            settings.response_body_limit,
            settings.network_policy(),
            settings.cert_dir,
            settings.proxies(),
        )

    def __init__(
        self,
        concurrency: int = 100,
        response_body_limit: int = 64 * 1024,
        policy: NetworkPolicy | None = None,
        cert_dir: str = "",
        proxies: Proxies | None = None,
    ) -> None:
        self.concurrency = concurrency
        self.cert_dir = cert_dir
        self.response_body_limit = response_body_limit
        self.policy = policy if policy is not None and policy.active else None
        self.proxies = proxies if proxies is not None and proxies.active else None
        self._http: HttpClient | None = None
        self._proxied: dict[str, AiohttpClient] = {}  # by proxy URL
        self._routes: dict[str, str | None] = {}  # target URL: its proxy URL, None if direct
        self._ssl_contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}
        self._tokens = TokenCache()
        self._destinations: dict[str, Destination[Any]] = {}

    def _client(self) -> HttpClient:
        if self._http is None:
            self._http = HttpClient(
                USER_AGENT, self.concurrency, self.response_body_limit, self.policy
            )
        return self._http

    def _transport(self, url: str) -> Transport:
        """The lean client, or for a target a proxy applies to, that proxy's transport."""
        if self.proxies is None:
            return self._client()
        try:
            proxy = self._routes[url]
        except KeyError:
            target = parse_target(url)  # ValueError for a URL that cannot be sent
            proxy = self.proxies.for_target(target.https, target.host, target.port)
            if len(self._routes) >= ROUTES_KEPT:
                self._routes.clear()
            self._routes[url] = proxy
        if proxy is None:
            return self._client()
        transport = self._proxied.get(proxy)
        if transport is None:
            transport = self._proxied[proxy] = AiohttpClient(
                USER_AGENT, self.concurrency, self.response_body_limit, self.policy, proxy=proxy
            )
        return transport

    def _ssl(self, request: OutboundRequest) -> ssl.SSLContext | bool:
        verify, cert = request.ssl_verification, request.client_cert_path
        if not cert and not request.ca_file_path:
            return verify
        files = (request.ca_file_path, cert, request.client_key_path)
        for path in files:
            # Also here, not only when saving: HOOKHUB_CERT_DIR may be newer than the webhook.
            problem = certs.outside(path, self.cert_dir) if path else None
            if problem:
                raise ValueError(problem)
        # Keyed by modification times too: a renewed certificate is used without a restart.
        cache_key = (verify, *files, *map(_mtime, files))
        context = self._ssl_contexts.get(cache_key)
        if context is None:
            context = tls_context(verify, *files)
            self._ssl_contexts[cache_key] = context
        return context

    async def send(self, request: OutboundRequest) -> Outcome:
        """Send one request and describe the outcome (response kept up to the body limit).

        The webhook's timeout covers everything, OAuth2 token requests included.
        """
        if request.destination is not None:
            return await self._publish(request, request.destination)
        started = time.perf_counter()
        try:
            if request.oauth2:
                status, headers, body = await self._send_with_token(request, started)
            else:
                status, headers, body = await self._exchange(request)
        except TokenError as exc:
            error = str(exc)
        except NETWORK_ERRORS as exc:
            error = describe_error(exc, request.timeout)
            # A TLS 1.3 server refuses a missing client certificate after the handshake, and
            # the client often sees only a reset or a close: say what is the likely cause.
            if _dropped(exc) and request.url.startswith("https:") and not request.client_cert_path:
                error += NO_CLIENT_CERTIFICATE
            # Errors about the URL quote it; the error is stored and shown like the URL: masked.
            if request.url in error:
                error = error.replace(request.url, mask_url(request.url, template=False))
        else:
            duration_ms = (time.perf_counter() - started) * 1000
            return Outcome(status=status, headers=headers, body=body, duration_ms=duration_ms)
        return Outcome(status=None, error=error, duration_ms=(time.perf_counter() - started) * 1000)

    async def _publish(self, request: OutboundRequest, route: Route) -> Outcome:
        """Publish to a broker; success is its ack (publisher confirm, JetStream ack, ...)."""
        started = time.perf_counter()
        try:
            destination = self._destinations.get(route.kind)
            if destination is None:
                destination = destinations.open_destination(route.kind, self.policy)
                self._destinations[route.kind] = destination
            async with asyncio.timeout(request.timeout):
                ack = await destination.publish(request, route.options)
        except Exception as exc:
            error = destinations.describe(exc, request.timeout)
            if request.url in error:
                error = error.replace(request.url, mask_url(request.url, template=False))
            return Outcome(
                status=None, error=error, duration_ms=(time.perf_counter() - started) * 1000
            )
        duration_ms = (time.perf_counter() - started) * 1000
        return Outcome(status=None, body=ack.encode(), duration_ms=duration_ms, confirmed=True)

    async def _exchange(self, request: OutboundRequest) -> tuple[int, dict[str, str], bytes]:
        return await self._transport(request.url).request(
            request.method,
            request.url,
            request.headers,
            request.body,
            request.timeout,
            self._ssl(request),
        )

    async def _send_with_token(
        self, request: OutboundRequest, started: float
    ) -> tuple[int, dict[str, str], bytes]:
        """Send with an OAuth2 bearer token; on a 401, renew the token and send once more."""
        auth = request.oauth2 or {}
        token = await self._token(request, auth, started)
        response = await self._exchange(self._bearing(request, token, started))
        if response[0] != 401:
            return response
        # The receiver may revoke a token or rotate its keys before the token's own expiry.
        self._tokens.discard(auth, token)
        token = await self._token(request, auth, started)
        return await self._exchange(self._bearing(request, token, started))

    def _bearing(self, request: OutboundRequest, token: str, started: float) -> OutboundRequest:
        headers = {**request.headers, "Authorization": f"Bearer {token}"}
        return replace(request, headers=headers, timeout=_left(request, started))

    async def _token(
        self, request: OutboundRequest, auth: Mapping[str, Any], started: float
    ) -> str:
        url = auth["token_url"]

        async def fetch() -> tuple[str, float]:
            headers, body = token_request(auth)
            token_call = replace(
                request,
                url=url,
                method="POST",
                headers=headers,
                body=body,
                timeout=_left(request, started),
                oauth2=None,
            )
            status, _, answer = await self._exchange(token_call)
            return parse_token(url, status, answer)

        try:
            # Bounded by this send's deadline even when joining another send's token request.
            return await asyncio.wait_for(self._tokens.token(auth, fetch), _left(request, started))
        except NETWORK_ERRORS as exc:
            raise TokenError(url, describe_error(exc, request.timeout)) from exc

    async def close(self) -> None:
        """Close the pooled connections."""
        for destination in self._destinations.values():
            await destination.close()
        self._destinations.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None
        for transport in self._proxied.values():
            await transport.close()
        self._proxied.clear()


def _left(request: OutboundRequest, started: float) -> float:
    """Seconds left of the request's timeout; TimeoutError if none is."""
    left = request.timeout - (time.perf_counter() - started)
    if left <= 0:
        raise TimeoutError
    return left
