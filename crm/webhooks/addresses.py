"""Where webhooks may go (the guard against server-side request forgery): public http(s)
addresses only, unless an admin allows private ones.

A URL is checked when an admin saves it and again before every delivery, as its name may
resolve elsewhere by then: every address the name resolves to must be allowed, and the
delivery then connects to the address that was checked (`Target.connect_url`), naming the host
in the Host header and in TLS (SNI, certificate check). So a name that resolves to a public
address for the check and to an internal one a moment later (DNS rebinding) reaches nothing
internal: no second lookup happens. Redirects are not followed (a public receiver could answer
with a redirect to an internal one), and no proxy from the environment is used.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from flask_babel import lazy_gettext as _l

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address in an IPv6 one (RFC 6052)


class AddressRefused(ValueError):
    """The URL may not receive webhooks; `message` says why, for the admin."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class Unresolvable(AddressRefused):
    """The host name does not resolve (now: a delivery tries again later)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect, and the host name to present there."""

    url: str
    address: IPAddress
    host_header: str  # host[:port] as in the URL
    hostname: str  # for TLS: the server name and the certificate's

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def check_syntax(url: str) -> None:
    """http or https, a host, no user name or password, a usable port; else AddressRefused."""
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise AddressRefused(_l("A URL has no spaces or line breaks."))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise AddressRefused(_l("Use an http:// or https:// URL."))
    if not parts.hostname:
        raise AddressRefused(_l("The URL needs a host name."))
    if parts.username is not None or parts.password is not None:
        raise AddressRefused(_l("Put no user name or password in the URL: requests are signed "
                                "with the endpoint's secret instead."))
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        raise AddressRefused(_l("The URL's port is not a valid port number.")) from None


def check(url: str, allow_private: bool) -> Target:
    """The URL resolved and checked; AddressRefused if its syntax or any of its addresses is
    not allowed, or its host name does not resolve."""
    check_syntax(url)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Unresolvable(_l("The host name %(host)s could not be resolved.",
                                host=parts.hostname)) from None
    # IPv4 first: of a name with both, the address a host without IPv6 routes can reach.
    addresses = sorted({ipaddress.ip_address(info[4][0].partition("%")[0]) for info in found},
                       key=lambda address: (address.version, int(address)))
    if not addresses:
        raise Unresolvable(_l("The host name %(host)s could not be resolved.",
                                host=parts.hostname))
    if not allow_private:
        for address in addresses:
            if is_private(address):
                raise AddressRefused(_l(
                    "%(host)s is a private, loopback or otherwise internal address (%(address)s). "
                    "An administrator can allow such addresses on the Security page.",
                    host=parts.hostname, address=str(address)))
    return Target(url=url, address=addresses[0], host_header=parts.netloc.rpartition("@")[2],
                  hostname=parts.hostname)


def is_private(address: IPAddress) -> bool:
    """Not a public unicast address: loopback, private, link-local, carrier-grade NAT,
    multicast, reserved, unspecified, or an IPv6 form of one of those (IPv4-mapped, NAT64,
    6to4)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = (address.ipv4_mapped or address.sixtofour
                    or (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
                        if address in _NAT64 else None))
        if embedded is not None and is_private(embedded):
            return True
    return (not address.is_global or address.is_private or address.is_loopback
            or address.is_link_local or address.is_multicast or address.is_reserved
            or address.is_unspecified or address in _SHARED)
