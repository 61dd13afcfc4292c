"""Where the plugin may connect: every connection it opens to a cluster or a git server goes through
the guard here, so that whoever may edit a fabric's server URL or a repository's URL cannot point
NetBox's worker at the NetBox host itself or at a cloud metadata service (server-side request
forgery).

The plugin setting `blocked_networks` lists the refused networks (its default, in the plugin's
`default_settings`: loopback, which reaches the NetBox host's own database, Redis and NetBox itself;
"this host" (0.0.0.0 reaches the host on Linux); link-local, where clouds serve instance metadata
and credentials; and the metadata addresses outside it, AWS's fd00:ec2::254 and Alibaba's
100.100.100.200). The check is made on
the addresses a name resolves to, at the moment of connecting, and the connection is opened to the
very address checked: a name that resolves to an allowed address when the URL is saved and to a
blocked one later (DNS rebinding) is still refused, and nothing is sent, not even a TCP SYN, to a
blocked address. An IP literal in a blocked network is refused already when the URL is saved.
"""

import ipaddress
import socket

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from . import settings


class AddressBlocked(Exception):
    """A connection refused because every address of the host is in a blocked network."""

    def __init__(self, host: str, address: str, network: str):
        self.host, self.address, self.network = host, address, network
        shown = host if host == address else f"{host} ({address})"
        super().__init__(
            f"{shown} is in {network}, a network this NetBox does not connect to (plugin setting "
            "blocked_networks): the plugin refuses to reach the NetBox host itself or a cloud "
            "metadata service."
        )


def blocked_networks() -> list:
    return [ipaddress.ip_network(text, strict=False) for text in settings.get("blocked_networks") or ()]


def _normalised(address: str):
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is not part of it
    if ip.version == 6 and ip.ipv4_mapped:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip


def blocked_by(address: str, networks=None):
    """The blocked network holding `address` (an IP address as text), or None."""
    ip = _normalised(address)
    for network in blocked_networks() if networks is None else networks:
        if ip.version == network.version and ip in network:
            return network
    return None


def literal_blocked(host: str):
    """For a URL's host that is an IP literal in a blocked network: the AddressBlocked to report;
    else None (a name is checked when it is resolved, at connection time)."""
    host = (host or "").strip("[]")
    try:
        network = blocked_by(host)
    except ValueError:
        return None  # a name, not an address
    return AddressBlocked(host, host, str(network)) if network else None


def permitted_addresses(host: str, port: int) -> list[str]:
    """The addresses of `host` the plugin may connect to, in resolution order; raises
    socket.gaierror when the name does not resolve, AddressBlocked when every address is blocked."""
    networks = blocked_networks()
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    allowed = [address for address in addresses if blocked_by(address, networks) is None]
    if not allowed and addresses:
        first = addresses[0]
        raise AddressBlocked(host, first, str(blocked_by(first, networks)))
    return allowed


class _Guarded:
    """urllib3's connection, opened only to the host's permitted addresses (checked at connect)."""

    def _new_conn(self):
        try:
            addresses = permitted_addresses(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        last = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                last = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}") from last


class GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


def guard(pool_manager):
    """Make a urllib3 PoolManager open its connections through the guard; returns it."""
    pool_manager.pool_classes_by_scheme = {
        "http": GuardedHTTPConnectionPool,
        "https": GuardedHTTPSConnectionPool,
    }
    return pool_manager


def check_host(host: str, port: int):
    """For a connection the plugin does not open itself (ssh): raise AddressBlocked when every
    address of the host is blocked (resolved now; ssh resolves again, so this is checked once)."""
    try:
        permitted_addresses(host, port)
    except socket.gaierror:
        return  # ssh reports an unknown name itself
