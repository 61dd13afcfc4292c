"""Where the plugin may connect: every connection it opens to a cluster or a git server goes through
the guard here, so that whoever may edit a fabric's server URL or a repository's URL cannot point
NetBox's worker at the NetBox host's loopback services or at a cloud metadata service (server-side
request forgery).

The plugin setting `blocked_networks` lists the refused networks (its default, in the plugin's
`default_settings`: loopback, which reaches the NetBox host's own database, Redis and NetBox itself;
"this host" (0.0.0.0 reaches the host on Linux); link-local, where clouds serve instance metadata
and credentials; and the metadata addresses outside it, AWS's fd00:ec2::254 and Alibaba's
100.100.100.200). The check is made on the addresses a name resolves to, at the moment of
connecting, and the connection is opened to the very address checked: a name that resolves to an
allowed address when the URL is saved and to a blocked one later (DNS rebinding) is still refused,
and nothing is sent, not even a TCP SYN, to a blocked address. An IP literal in a blocked network is
refused already when the URL is saved. ssh and the worker's proxy: docs/operations.md.
"""

import ipaddress
import socket
import sys

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.poolmanager import PoolManager
from urllib3.util import connection as urllib3_connection

from . import settings


class AddressBlocked(Exception):
    """A connection refused: the address of the host it would reach is in a blocked network."""

    def __init__(self, host: str, address: str, network: str):
        self.host, self.address, self.network = host, address, network
        shown = host if host == address else f"{host} ({address})"
        super().__init__(
            f"{shown} is in {network}, a network this NetBox does not connect to (plugin setting "
            "blocked_networks): the plugin refuses to reach the NetBox host's loopback or a cloud "
            "metadata service."
        )


def blocked_networks() -> list:
    return [ipaddress.ip_network(text, strict=False) for text in settings.get("blocked_networks") or ()]


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known NAT64 prefix: an IPv4 address inside


def _normalised(address: str):
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is not part of it
    if ip.version == 6 and ip.ipv4_mapped:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.version == 6 and ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)  # 64:ff9b::7f00:1 reaches 127.0.0.1
    return ip


def blocked_by(address: str, networks=None):
    """The blocked network holding `address` (an IP address as text), or None."""
    ip = _normalised(address)
    for network in blocked_networks() if networks is None else networks:
        if ip.version == network.version and ip in network:
            return network
    return None


def host_name_problem(host: str) -> str:
    """Why a URL's host can never be resolved ("a..b", a label over 63 characters), or ""."""
    try:
        (host or "").encode("idna")
    except UnicodeError as exc:
        return str(exc)
    return ""


def host_refusal(host: str) -> str:
    """Why a URL's host is refused when the URL is saved (one no resolver could ask for, or an IP
    literal in a blocked network), or "" (a name is checked when it is resolved, at connection)."""
    problem = host_name_problem(host)
    if problem:
        return f"The host name cannot be resolved: {problem}."
    blocked = literal_blocked(host)
    return str(blocked) if blocked else ""


def literal_blocked(host: str):
    """For a URL's host that is an IP literal in a blocked network: the AddressBlocked to report;
    else None (a name is checked when it is resolved, at connection time)."""
    host = (host or "").strip("[]")
    try:
        network = blocked_by(host)
    except ValueError:
        return None  # a name, not an address
    return AddressBlocked(host, host, str(network)) if network else None


def resolve(host: str, port: int) -> list[str]:
    """The addresses of `host`, in resolution order; socket.gaierror when it does not resolve
    (a name no resolver could ask for, such as one with an empty label, is said so too)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:  # "a..b", a label over 63 characters: the IDNA codec refuses it
        raise socket.gaierror(socket.EAI_NONAME, f"{host!r} is not a valid host name ({exc})") from None
    return list(dict.fromkeys(info[4][0] for info in found))


def permitted_addresses(host: str, port: int) -> list[str]:
    """The addresses of `host` the plugin may connect to, in resolution order; raises
    socket.gaierror when the name does not resolve, AddressBlocked when every address is blocked."""
    networks = blocked_networks()
    addresses = resolve(host, port)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"{host!r} has no address")
    allowed = [address for address in addresses if blocked_by(address, networks) is None]
    if not allowed:
        first = addresses[0]
        raise AddressBlocked(host, first, str(blocked_by(first, networks)))
    return allowed


def none_blocked(host: str, port: int):
    """For a connection whose socket goes elsewhere (through the operator's proxy): raise
    AddressBlocked when any address of the host is blocked, as resolved now (the proxy resolves
    again: what it does is the proxy's policy)."""
    networks = blocked_networks()
    for address in resolve(host, port):
        network = blocked_by(address, networks)
        if network is not None:
            raise AddressBlocked(host, address, str(network))


class _Guarded:
    """urllib3's connection, opened only to the host's permitted addresses (checked at connect)."""

    def _new_conn(self):
        try:
            addresses = permitted_addresses(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        last = None
        for address in addresses:  # each permitted address in turn, as urllib3 tries each address
            try:
                sock = urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:  # TimeoutError among them
                last = exc
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        if isinstance(last, TimeoutError):
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from last
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
    if type(pool_manager) is not PoolManager:
        # a proxy's or a SOCKS manager's pools have classes of their own: never replaced blindly
        raise TypeError(
            f"Only a plain urllib3 PoolManager can be guarded, not {type(pool_manager).__name__}."
        )
    pool_manager.pool_classes_by_scheme = {
        "http": GuardedHTTPConnectionPool,
        "https": GuardedHTTPSConnectionPool,
    }
    return pool_manager


def pinned_address(host: str, port: int) -> str:
    """For a connection the plugin does not open itself (ssh): the permitted address to give the
    client, so that it connects to the very address checked (it would resolve the name again);
    raises AddressBlocked when every address is blocked, socket.gaierror when none resolves."""
    return permitted_addresses(host, port)[0]
