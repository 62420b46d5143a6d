"""Where webhooks may go (and data URLs may be fetched from): http(s) only; never link-local, cloud-metadata or
unspecified addresses; loopback by flag.

Checked when a URL is stored (the literal host) and before every delivery (every address the host resolves
to), so a name that later resolves to a metadata address is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data"})
METADATA_IPS = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True)
class TargetPolicy:
    """`allow_loopback`: deliveries to 127.0.0.0/8, ::1 and localhost (local development and tests)."""

    allow_loopback: bool = False

    def refusal(self, url: str, *, resolve: bool = False) -> str | None:
        """Why `url` may not receive webhooks, or None. `resolve` also checks what the host resolves to."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            return f"not a valid URL ({exc})"
        if parts.scheme not in ("http", "https"):
            return "only http:// and https:// URLs can receive webhooks"
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            return "the URL has no host"
        if host in METADATA_HOSTS or host.endswith(".internal"):
            return f"{host} is a cloud metadata address"
        if host in LOOPBACK_NAMES or host.endswith(".localhost"):
            return None if self.allow_loopback else _LOOPBACK
        literal = _literal(host)
        addresses = [literal] if literal is not None else _resolved(host, port) if resolve else []
        for address in addresses:
            why = self._refused(address)
            if why:
                return why
        return None

    def _refused(self, address: IP) -> str | None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address in METADATA_IPS:
            return f"{address} is a cloud metadata address"
        if address.is_link_local:
            return f"{address} is a link-local address"
        if address.is_unspecified or address.is_multicast:
            return f"{address} is not a delivery address"
        if address.is_loopback and not self.allow_loopback:
            return _LOOPBACK
        return None


_LOOPBACK = "loopback addresses receive webhooks only when the server runs with --allow-loopback-webhooks"


def _literal(host: str) -> IP | None:
    """An IP written in the URL, including the legacy IPv4 forms the resolver accepts (2852039166, 0xa9.254...)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _resolved(host: str, port: int | None) -> list[IP]:
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except OSError:
        return []  # the delivery itself will fail and be retried
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
