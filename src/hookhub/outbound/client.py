"""The outbound HTTP client: one shared aiohttp session per process; outcomes, not exceptions."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from dataclasses import dataclass, field

import aiohttp

from hookhub import __version__

USER_AGENT = f"hookhub/{__version__}"


@dataclass(frozen=True)
class OutboundRequest:
    """A fully rendered and signed request, ready for the wire."""

    url: str
    method: str
    headers: dict[str, str]
    body: bytes
    timeout: float  # seconds, whole request
    ssl_verification: bool = True
    ca_file_path: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened to one request: a response, or the exact error that prevented one."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """2xx is success; anything else, or no response at all, is a failed attempt."""
        return self.status is not None and 200 <= self.status < 300


def describe_error(exc: BaseException, timeout: float) -> str:
    """A one-line, user-facing description of why a request got no response."""
    if isinstance(exc, asyncio.TimeoutError):
        return f"timed out after {timeout:g} s"
    text = str(exc) or type(exc).__name__
    os_error = getattr(exc, "os_error", None)
    errno = getattr(os_error, "errno", None)
    if errno:
        reason = os.strerror(errno)
        if reason not in text:
            text = f"{text}: {reason}"
    return text


class Sender:
    """Sends requests over one pooled session; never raises for network or HTTP failures."""

    def __init__(self, concurrency: int = 100, response_body_limit: int = 64 * 1024) -> None:
        self.concurrency = concurrency
        self.response_body_limit = response_body_limit
        self._session: aiohttp.ClientSession | None = None
        self._ssl_contexts: dict[str, ssl.SSLContext] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency, ttl_dns_cache=60),
                headers={"User-Agent": USER_AGENT},
                # Receivers' cookies must not leak between webhooks sharing a host.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
            )
        return self._session

    def _ssl(self, request: OutboundRequest) -> ssl.SSLContext | bool:
        if not request.ssl_verification:
            return False
        if not request.ca_file_path:
            return True
        context = self._ssl_contexts.get(request.ca_file_path)
        if context is None:
            context = ssl.create_default_context(cafile=request.ca_file_path)
            self._ssl_contexts[request.ca_file_path] = context
        return context

    async def send(self, request: OutboundRequest) -> Outcome:
        """Send one request and describe the outcome (response kept up to the body limit)."""
        started = time.perf_counter()
        try:
            async with self._client().request(
                request.method,
                request.url,
                data=request.body,
                headers=request.headers,
                timeout=aiohttp.ClientTimeout(total=request.timeout),
                ssl=self._ssl(request),
                allow_redirects=False,
            ) as response:
                body = await self._read_limited(response)
                return Outcome(
                    status=response.status,
                    headers={str(k): v for k, v in response.headers.items()},
                    body=body,
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            return Outcome(
                status=None,
                error=describe_error(exc, request.timeout),
                duration_ms=(time.perf_counter() - started) * 1000,
            )

    async def _read_limited(self, response: aiohttp.ClientResponse) -> bytes:
        # Only the head of a huge or endless body is read; the connection is dropped after.
        chunks: list[bytes] = []
        remaining = self.response_body_limit
        while remaining > 0:
            chunk = await response.content.read(remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        """Close the pooled connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
