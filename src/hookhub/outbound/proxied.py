"""The transport for sends through an HTTP proxy: aiohttp, behind transport.py's interface.

An http:// target is sent to the proxy in absolute form (`POST http://host/path HTTP/1.1`); an
https:// target through a CONNECT tunnel, with TLS end to end. The outbound network policy
applies to the target, not to the proxy (which the operator chose): with an active policy, the
target's name is resolved here and checked before the request, and the proxy resolves it again.
Without a proxy it sends directly, with the policy checked on the addresses it connects to (the
contract tests run it so, beside the lean client).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from types import SimpleNamespace

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from hookhub.core.masking import mask_url
from hookhub.core.policy import NetworkPolicy
from hookhub.outbound.dns import Lookup, Resolver
from hookhub.outbound.http import HAPPY_EYEBALLS_DELAY, IDLE_TIMEOUT, checked_headers
from hookhub.outbound.transport import (
    MAX_HEADER_LINE,
    MAX_HEADERS,
    ConnectError,
    Contexts,
    ProtocolError,
    Response,
    ServerDisconnected,
    cannot_connect,
    reason,
)

# Headers the lean client does not send either: it asks for no compression (it decodes what
# comes), and a caller's framing headers could desynchronise a kept-alive connection.
SKIPPED = ("Accept-Encoding",)
FRAMING = frozenset({"content-length", "transfer-encoding"})


class _PolicyResolver(AbstractResolver):
    """aiohttp's name lookups, answered by dns.py (TTLs, happy eyeballs over its addresses)."""

    def __init__(self, resolver: Resolver, check: bool) -> None:
        self.resolver = resolver
        self.check = check  # the policy applies: what is resolved is the target, not a proxy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self.resolver.addresses(host, port, self.check)
        return [
            ResolveResult(
                hostname=host,
                host=address[0],
                port=address[1],
                family=found_family,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for found_family, address in addresses
        ]

    async def close(self) -> None:
        """The Resolver is closed by its client."""


async def _reused(_: aiohttp.ClientSession, context: SimpleNamespace, __: object) -> None:
    context.trace_request_ctx.reused = True


class AiohttpClient:
    """Sends requests with aiohttp, through `proxy` (an http:// URL) if given."""

    def __init__(
        self,
        user_agent: str,
        limit: int = 100,
        body_limit: int = 64 * 1024,
        policy: NetworkPolicy | None = None,
        lookup: Lookup | None = None,
        proxy: str | None = None,
    ) -> None:
        """`policy`: the targets it may send to; `lookup`: how names are looked up."""
        self.user_agent = user_agent
        self.limit = limit
        self.body_limit = body_limit
        self.proxy = yarl.URL(proxy) if proxy else None
        self._resolver = Resolver(policy, lookup)
        self._contexts = Contexts()
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            tracing = aiohttp.TraceConfig()
            tracing.on_connection_reuseconn.append(_reused)
            connector = aiohttp.TCPConnector(
                limit=self.limit,
                resolver=_PolicyResolver(self._resolver, check=self.proxy is None),
                use_dns_cache=False,  # dns.py caches, for the answers' TTLs
                keepalive_timeout=IDLE_TIMEOUT,
                happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.user_agent},
                skip_auto_headers=SKIPPED,
                cookie_jar=aiohttp.DummyCookieJar(),
                trace_configs=[tracing],
                max_field_size=MAX_HEADER_LINE,
                max_headers=MAX_HEADERS,
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        timeout: float,  # noqa: ASYNC109 (one deadline covers every step, connect included)
        tls: ssl.SSLContext | bool = True,
    ) -> Response:
        """Send one request; `timeout` (seconds) covers DNS, connect, TLS, send and the answer.

        `tls`: True checks the server's certificate, False does not, a context is used as is.
        """
        target = yarl.URL(url)
        if target.scheme not in ("http", "https"):
            raise ValueError(f"unsupported URL scheme {target.scheme!r}: {url}")
        host, port = target.raw_host, target.port
        if not host or port is None:
            raise ValueError(f"URL has no host: {url}")
        given = checked_headers(method, headers)
        sent = {k: v for k, v in headers.items() if k.lower() not in FRAMING}
        if target.user is not None and "authorization" not in given:
            sent["Authorization"] = aiohttp.BasicAuth(target.user, target.password or "").encode()
        target = target.with_user(None)
        deadline = asyncio.get_running_loop().time() + timeout
        async with asyncio.timeout_at(deadline):
            if self._resolver.policy is not None:
                await self._resolver.addresses(host, port)  # PolicyRefused for a denied target
            context = self._contexts.get(tls) if target.scheme == "https" else None
            state = SimpleNamespace(reused=False)
            try:
                return await self._exchange(method, target, sent, body, context, state)
            except ServerDisconnected as exc:
                # Closed without a word on a pooled connection: the server had given up on it
                # as the request went out (as the lean client, once, on a new connection).
                if not state.reused or exc.answered or exc.__cause__ is not None:
                    raise
            return await self._exchange(method, target, sent, body, context, state)

    async def _exchange(
        self,
        method: str,
        target: yarl.URL,
        headers: dict[str, str],
        body: bytes,
        context: ssl.SSLContext | None,
        state: SimpleNamespace,
    ) -> Response:
        session = self._open()
        host, port = target.raw_host or "", target.port or 0
        answered = False
        try:
            async with session.request(
                method,
                target,
                headers=headers,
                data=body or None,
                proxy=self.proxy,
                ssl=context if context is not None else True,
                allow_redirects=False,
                trace_request_ctx=state,
            ) as response:
                answered = True
                return Response(response.status, _joined(response), await self._body(response))
        except aiohttp.ClientProxyConnectionError as exc:
            assert self.proxy is not None
            shown = mask_url(str(self.proxy), template=False)
            raise ConnectError(f"Cannot connect to proxy {shown} ({reason(exc.os_error)})") from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise cannot_connect(host, port, exc.certificate_error) from exc
        except aiohttp.ClientConnectorError as exc:
            raise cannot_connect(host, port, exc.os_error) from exc
        except aiohttp.ClientHttpProxyError as exc:
            shown = mask_url(str(self.proxy), template=False)
            message = f"the proxy {shown} answered {exc.status} {exc.message}".rstrip()
            raise ConnectError(f"Cannot connect to host {host}:{port} ({message})") from exc
        except aiohttp.ServerDisconnectedError:
            raise ServerDisconnected("Server disconnected", answered) from None
        except aiohttp.ClientPayloadError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, aiohttp.http_exceptions.ContentEncodingError):
                raise ProtocolError(f"cannot decode the body: {cause.message}") from exc
            raise ServerDisconnected("Server disconnected", True) from exc
        except aiohttp.ClientOSError as exc:
            error = ServerDisconnected(f"Server disconnected: {reason(exc)}", answered)
            raise error from exc
        except aiohttp.ClientResponseError as exc:
            raise ProtocolError(f"invalid HTTP response: {exc.message}") from exc

    async def _body(self, response: aiohttp.ClientResponse) -> bytes:
        """The body up to the limit; past it, the connection is closed unread."""
        chunks: list[bytes] = []
        size = 0
        while size < self.body_limit:
            chunk = await response.content.read(self.body_limit - size)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
        if not response.content.at_eof():
            response.close()
        return b"".join(chunks)

    async def close(self) -> None:
        """Close every connection and stop pending lookups."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._resolver.close()


def _joined(response: aiohttp.ClientResponse) -> dict[str, str]:
    """The response's headers, a repeated one's values joined as the lean client joins them."""
    headers: dict[str, str] = {}
    names: dict[str, str] = {}
    for key, value in response.headers.items():
        first = names.setdefault(key.lower(), key)
        if first in headers:
            headers[first] += ", " + value
        else:
            headers[key] = value
    return headers
