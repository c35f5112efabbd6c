"""Where the sandbox's own requests may go: callbacks and ``add-contacts-bulk``'s ``file_url``.

Both are URLs an API caller chooses, fetched by the sandbox's process, so two things are refused:

**Link-local destinations.** ``169.254.0.0/16`` and ``fe80::/10`` are where cloud metadata services
answer (``http://169.254.169.254/`` hands out the machine's credentials on most clouds), and a URL can
name them in many spellings: ``2852039166``, ``0xa9fea9fe``, ``0251.0376.0251.0376``, ``169.254.43518``,
``[::ffff:169.254.169.254]``, or a host name whose DNS answer is one of them. So the check is made on the
addresses the host name resolves to, at connection time, and the connection is made to the checked
address (a second DNS answer cannot differ). IPv6 addresses that carry an IPv4 one (mapped, compatible,
NAT64, 6to4, Teredo) are checked as that IPv4 address, and ``fd00:ec2::254`` (the IPv6 metadata address
of one cloud) is refused too. ``SandboxConfig(allow_link_local=True)`` (``--allow-link-local``) lifts it.
Proxies from the environment are not used for these requests: the checked address is the one reached.

**Loops.** Each of these requests carries :data:`LOOP_HEADER`, and the sandbox refuses any request that
carries it (403, :data:`REFUSED_HEADER` in the answer). Without that, a callback URL naming the
sandbox's own ``send-sms`` made one send into 110 messages, and as the account's default receipt URL,
into thousands within seconds (each message's receipt a new send), bounded only by the balance.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import anyio
import httpcore
import httpx

__all__ = [
    "LOOP_HEADER",
    "REFUSED_HEADER",
    "RefusedDestination",
    "guarded_transport",
    "refusal",
]

LOOP_HEADER = "x-smsapi-sandbox-request"
"""Sent with every callback and ``file_url`` fetch the sandbox makes; a sandbox refuses a request with it."""
REFUSED_HEADER = "x-smsapi-sandbox-refused"
"""In a sandbox's answer to a request that carried :data:`LOOP_HEADER`."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_METADATA = frozenset({ipaddress.ip_address("fd00:ec2::254")})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedDestination(httpcore.ConnectError):
    """A connection the sandbox will not make (httpx reports it as ``httpx.ConnectError`` caused by this)."""


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or 1 < int(address) < 2**32:  # NAT64, or IPv4-compatible (::a.b.c.d)
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: str) -> str | None:
    """Why the sandbox will not connect to ``address`` (an IP address as text), or ``None``."""
    try:
        parsed: Address = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return None
    if parsed in _METADATA:
        return "a cloud metadata address"
    if isinstance(parsed, ipaddress.IPv6Address):
        carried = _carried_ipv4(parsed)
        if carried is not None and carried.is_link_local:
            return f"an IPv6 address carrying {carried}, a link-local address"
    if parsed.is_link_local:
        return "a link-local address"
    return None


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses :func:`refusal` lets through."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def _resolve(self, host: str, port: int, within: float | None) -> list[str]:
        try:
            with anyio.fail_after(within):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {within} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        for address in addresses:  # one bad answer refuses the name: no picking around it
            reason = refusal(address)
            if reason is not None:
                named = host if address == host else f"{host} (resolves to {address})"
                raise RefusedDestination(
                    f"refused: {named} is {reason}, where cloud metadata services answer; "
                    "start the sandbox with --allow-link-local to allow it"
                )
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedDestination("the sandbox makes no requests over Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(*, allow_link_local: bool) -> httpx.AsyncHTTPTransport:
    """httpx's transport for the sandbox's outgoing requests, refusing link-local destinations unless
    ``allow_link_local`` (use it in a client made with ``trust_env=False``: no proxy in between)."""
    transport = httpx.AsyncHTTPTransport()
    if not allow_link_local:
        # httpx does not take a network backend; its pool (httpcore's) does, under this name
        pool = transport._pool
        if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
            raise RuntimeError("this httpx/httpcore release keeps its network backend elsewhere")
        pool._network_backend = _GuardedBackend(pool._network_backend)
    return transport
