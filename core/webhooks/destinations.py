"""Where a webhook may go: destination checks on write and again at connect time (SSRF).

A webhook URL is chosen by whoever holds an API key; the worker that POSTs to it sits inside the
platform's network, next to PostgreSQL, Temporal, Redis and the cloud's metadata service. So a
destination is refused unless every address its host resolves to is publicly routable:
loopback, private (RFC 1918, ULA), link-local (which holds the cloud metadata services),
shared/CGNAT, unspecified, multicast, reserved and documentation ranges are refused, including
their IPv4-mapped, 6to4 and NAT64 IPv6 forms, and names (or odd literals such as `2130706433`
or `0177.0.0.1`) that resolve to them. An organization may allow private destinations (its
receivers live on its own network); cloud metadata addresses stay refused even then.

The check runs twice. When a URL is written (`check_destination`), so people hear about a bad
URL at once. And when the worker connects (`GuardedTransport`): its network backend resolves the
name itself, checks every address and connects to the address it checked, so a name that
resolved to a public address at write time and to 127.0.0.1 now (DNS rebinding) is refused. TLS
still verifies the certificate against the URL's own name (httpcore passes the origin's host as
the server name), and the `Host` header is the URL's.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = [
    "ALLOW_PRIVATE",
    "DestinationRefused",
    "GuardedTransport",
    "check_destination",
    "check_url_form",
    "UnresolvableHost",
    "refusal_reason",
    "resolve",
    "webhook_client",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# The request extension a caller sets to say its organization allows private destinations.
ALLOW_PRIVATE = "callwright.allow_private"
# Cloud metadata services (AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba): refused even where
# private destinations are allowed, since no receiver lives there and credentials do.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
SCHEMES = frozenset({"http", "https"})


class DestinationRefused(ValueError):
    """A webhook destination the platform will not send to; `reason` is short and safe to show
    (e.g. `loopback address 127.0.0.1`, `https required`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnresolvableHost(DestinationRefused):
    """The host does not resolve (now): a DNS failure may pass, so a delivery retries it."""


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4 or NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal_reason(address: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why `address` is no place for a webhook (`loopback address 127.0.0.1`), or None."""
    if address in METADATA_ADDRESSES:
        return f"cloud metadata address {address}"
    inner = _embedded_ipv4(address)
    if inner is not None:
        return refusal_reason(inner, allow_private=allow_private)
    if allow_private:
        return None
    if address.is_unspecified:
        kind = "unspecified"
    elif address.is_loopback:
        kind = "loopback"
    elif address.is_link_local:
        kind = "link-local"
    elif address in _SHARED:
        kind = "shared (CGNAT)"
    elif address.is_multicast:
        kind = "multicast"
    elif address.is_private:
        kind = "private"
    elif address.is_reserved:
        kind = "reserved"
    elif not address.is_global:
        kind = "non-public"
    else:
        return None
    return f"{kind} address {address}"


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in the resolver's order (the system resolver: an IP
    literal in any form `inet_aton` accepts comes back as itself)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"cannot resolve {host}") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnresolvableHost(f"cannot resolve {host}")
    return addresses


def _check_addresses(host: str, addresses: Iterable[IPAddress], *, allow_private: bool) -> None:
    """Refuse the host if any of its addresses is refused: a name with one public and one
    private address could be steered to the private one."""
    for address in addresses:
        reason = refusal_reason(address, allow_private=allow_private)
        if reason is not None:
            named = "" if reason.endswith(f" {host}") else f" ({host})"
            raise DestinationRefused(f"{reason}{named}")


def check_url_form(url: str, *, require_https: bool) -> httpx.URL:
    """The URL parsed; refused unless it is http(s) (https when required) with a host."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise DestinationRefused("not a valid URL") from exc
    if parsed.scheme not in SCHEMES:
        raise DestinationRefused("only http and https URLs")
    if require_https and parsed.scheme != "https":
        raise DestinationRefused("https required")
    if not parsed.host:
        raise DestinationRefused("no host in the URL")
    return parsed


async def check_destination(url: str, *, allow_private: bool, require_https: bool) -> None:
    """Refuse (DestinationRefused) a URL a webhook may not be sent to: its form, its scheme, and
    every address its host resolves to now.

    A name that does not resolve yet is accepted (its DNS record may come later); the worker
    checks every address again when it connects, and that check is the one that counts."""
    parsed = check_url_form(url, require_https=require_https)
    try:
        addresses = await resolve(
            parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)
        )
    except UnresolvableHost:
        return
    _check_addresses(parsed.host, addresses, allow_private=allow_private)


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, checks every address, connects to a checked one."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        async with asyncio.timeout(timeout):
            addresses = await resolve(host, port)
        _check_addresses(host, addresses, allow_private=self.allow_private)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,  # noqa: ARG002
        timeout: float | None = None,  # noqa: ARG002, ASYNC109
        socket_options: Iterable[Any] | None = None,  # noqa: ARG002
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CheckedHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose backend checks where it connects.

    httpx offers no public seam for a network backend, so the pool it builds is replaced by an
    identical one with `_CheckedBackend` (no proxy: a proxy would do the resolving)."""

    def __init__(self, *, allow_private: bool, limits: httpx.Limits) -> None:
        super().__init__(retries=0, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            retries=0,
            network_backend=_CheckedBackend(allow_private=allow_private),
        )


class GuardedTransport(httpx.AsyncBaseTransport):
    """The webhook sender's transport: https only when required, and every connection checked
    at connect time. A request carrying the `ALLOW_PRIVATE` extension set to True goes through a
    pool that accepts private addresses (its organization allows them); every other request, and
    every connection it opens, is held to public addresses."""

    def __init__(self, *, require_https: bool, limits: httpx.Limits | None = None) -> None:
        self.require_https = require_https
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._public = _CheckedHTTPTransport(allow_private=False, limits=limits)
        self._private = _CheckedHTTPTransport(allow_private=True, limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Refuse the scheme if need be, then send through the pool the request's policy picks."""
        if request.url.scheme not in SCHEMES:
            raise DestinationRefused("only http and https URLs")
        if self.require_https and request.url.scheme != "https":
            raise DestinationRefused("https required")
        pool = self._private if request.extensions.get(ALLOW_PRIVATE) is True else self._public
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        """Close both pools."""
        await self._public.aclose()
        await self._private.aclose()


def webhook_client(*, require_https: bool, timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The HTTP client webhooks go out through: checked destinations, no redirects followed, no
    proxy or `.netrc` from the environment (a proxy would connect wherever it is told)."""
    return httpx.AsyncClient(
        transport=GuardedTransport(require_https=require_https),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
