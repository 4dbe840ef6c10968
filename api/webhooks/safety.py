"""Where a webhook may post: http(s) only, and never to this machine or a
private network unless `PHASELOG_WEBHOOKS_ALLOW_PRIVATE` says so.

Every address the host name resolves to is checked, at creation and again
before each attempt, since a name may resolve elsewhere tomorrow.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from domain.webhooks import url_problem

ANY_IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def _forbidden(address: ANY_IP) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for word, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return word
    return None


def resolve(host: str, port: int) -> list[ANY_IP]:
    """Every address `host` resolves to (an address literal: itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in found]


def url_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why `url` may not be posted to (said after `url: `), or None."""
    problem = url_problem(url)
    if problem is not None:
        return problem
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except OSError as error:
        return f"host {host} does not resolve ({error.strerror or error})"
    if not addresses:
        return f"host {host} does not resolve"
    if allow_private:
        return None
    for address in addresses:
        kind = _forbidden(address)
        if kind is not None:
            return (
                f"resolves to a {kind} address ({address}); set "
                "PHASELOG_WEBHOOKS_ALLOW_PRIVATE=true to allow it"
            )
    return None
