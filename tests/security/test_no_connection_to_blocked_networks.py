"""Whoever may edit a fabric's API server URL (or kubeconfig) or a git repository's URL must not
thereby point NetBox's worker at the NetBox host itself (its database, Redis, NetBox) or at a cloud
metadata service: server-side request forgery.

An IP literal in a blocked network is refused when the URL is saved; a name is resolved when the
plugin connects, and the connection is opened only to an address checked then, so that nothing,
not even a TCP handshake, reaches a blocked address. The tests' own configuration allows loopback
(the emulated clusters and the git server listen on 127.0.0.1); here the plugin's default
networks are put back, as a production NetBox has them."""

import socket
from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework import status
from utilities.testing import APITestCase

from netbox_hedgehog import HedgehogConfig, outbound
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.settings import validate_networks
from tests.security.test_kubeconfig_is_data import kubeconfig
from tests.support.fabrics import make_fabric, run_test
from tests.support.git_repos import make_repository
from tests.support.settings import plugin_settings

pytestmark = pytest.mark.django_db

DEFAULT = HedgehogConfig.default_settings["blocked_networks"]


def production_networks(**more):
    """The plugin's default blocked networks (loopback among them), short timeouts."""
    return plugin_settings(blocked_networks=DEFAULT, connect_timeout=1, request_timeout=1, **more)


class Listener:
    """A socket listening on 127.0.0.1 that never answers; `accepted()` says whether anything
    completed a TCP handshake with it."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.socket.setblocking(False)
        self.port = self.socket.getsockname()[1]

    def accepted(self) -> bool:
        try:
            conn, _ = self.socket.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True


@contextmanager
def listener():
    server = Listener()
    try:
        yield server
    finally:
        server.socket.close()


# --- which addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "::ffff:127.0.0.1",  # IPv4-mapped: the same loopback
        "0.0.0.0",
        "169.254.169.254",  # the metadata service of AWS, GCP, Azure, OpenStack
        "fe80::1%eth0",
        "fd00:ec2::254",
        "100.100.100.200",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)
def test_the_default_blocks_the_host_itself_and_the_metadata_services(address):
    with plugin_settings(blocked_networks=DEFAULT):
        assert outbound.blocked_by(address) is not None


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "172.16.5.4", "192.168.1.10", "100.64.0.1", "2001:db8::1", "64:ff9b::a00:1"]
)
def test_the_networks_clusters_live_on_are_not_blocked(address):
    with plugin_settings(blocked_networks=DEFAULT):
        assert outbound.blocked_by(address) is None


def test_a_name_is_judged_by_the_addresses_it_resolves_to():
    with plugin_settings(blocked_networks=DEFAULT):
        with pytest.raises(outbound.AddressBlocked) as blocked:
            outbound.permitted_addresses("localhost", 6443)
        assert "localhost (127.0.0.1)" in str(blocked.value)
        assert "blocked_networks" in str(blocked.value)
    with plugin_settings(blocked_networks=[]):
        assert "127.0.0.1" in outbound.permitted_addresses("localhost", 6443)


@pytest.mark.parametrize("value", ["127.0.0.0/8", ["not-a-network"], [42], {"a": 1}])
def test_a_bad_blocked_networks_setting_is_refused_saying_why(value):
    with pytest.raises(ValueError, match="blocked_networks"):
        validate_networks(value)


# --- when the URL is saved -------------------------------------------------------------------


@pytest.mark.parametrize(
    "server",
    [
        "https://169.254.169.254:6443",
        "https://127.0.0.1:6443",
        "https://[::1]:6443",
        "https://[::ffff:7f00:1]",
    ],
)
def test_a_server_url_at_a_blocked_address_is_refused_naming_the_setting(server):
    with production_networks():
        fabric = HedgehogFabric(name="ssrf", kubernetes_server=server)
        fabric.set_secret("kubernetes_token", "t0ken")
        with pytest.raises(ValidationError) as refused:
            fabric.full_clean()
    assert "blocked_networks" in str(refused.value.message_dict["kubernetes_server"])


@pytest.mark.parametrize("host", ["a..b", "x" * 64 + ".example.net"])
def test_a_host_name_no_resolver_could_ask_for_is_refused_when_saved(host):
    fabric = HedgehogFabric(name="ssrf", kubernetes_server=f"https://{host}:6443")
    fabric.set_secret("kubernetes_token", "t0ken")
    with pytest.raises(ValidationError) as refused:
        fabric.full_clean()
    assert "cannot be resolved" in str(refused.value.message_dict["kubernetes_server"])


def test_a_kubeconfig_whose_server_is_a_blocked_address_is_refused():
    with production_networks():
        fabric = HedgehogFabric(name="ssrf")
        fabric.set_secret("kubeconfig", kubeconfig(server="https://169.254.169.254"))
        with pytest.raises(ValidationError) as refused:
            fabric.full_clean()
    assert "blocked_networks" in str(refused.value.message_dict["kubeconfig"])


@pytest.mark.parametrize("url", ["https://127.0.0.1/fabrics.git", "ssh://git@169.254.169.254/fabrics.git"])
def test_a_git_url_at_a_blocked_address_is_refused(url):
    with production_networks():
        with pytest.raises(ValidationError) as refused:
            make_repository(url=url, password="")
    assert "blocked_networks" in str(refused.value.message_dict["remote_url"])


class RestRefusesBlockedServersTest(APITestCase):
    def setUp(self):
        super().setUp()
        self.add_permissions("netbox_hedgehog.add_hedgehogfabric", "netbox_hedgehog.view_hedgehogfabric")

    def test_a_metadata_service_url_answers_400_and_nothing_is_saved(self):
        with production_networks():
            response = self.client.post(
                reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-list"),
                {"name": "ssrf", "kubernetes_server": "https://169.254.169.254", "kubernetes_token": "t0ken"},
                format="json",
                **self.header,
            )
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertIn("blocked_networks", str(response.data["kubernetes_server"]))
        self.assertFalse(HedgehogFabric.objects.filter(name="ssrf").exists())


# --- when connecting ---------------------------------------------------------------------------


def test_a_name_resolving_to_loopback_fails_the_test_and_no_connection_is_made():
    with listener() as server:
        fabric = make_fabric("ssrf", server=f"https://localhost:{server.port}", token="t0ken")
        with production_networks():
            job = run_test(fabric)
        assert not server.accepted(), "a TCP connection reached the blocked address"
    assert (fabric.connection_status, fabric.connection_error_code) == ("failed", "bad_configuration")
    assert "blocked_networks" in fabric.connection_error and "127.0.0.0/8" in fabric.connection_error
    assert fabric.next_connection_attempt is None  # a refusal is not retried
    assert job.status == "failed" and "blocked_networks" in job.error


def test_where_loopback_is_allowed_the_same_test_does_connect():
    """The contrast that proves the listener sees a connection when one is made."""
    with listener() as server:
        fabric = make_fabric("ssrf", server=f"https://localhost:{server.port}", token="t0ken")
        with plugin_settings(blocked_networks=[], connect_timeout=1, request_timeout=1):
            run_test(fabric)
        assert server.accepted()
    assert fabric.connection_error_code == "timeout"


def test_a_row_stored_before_the_rule_reaches_no_cluster(cluster, fabric_for):
    """A fabric saved with 127.0.0.1 while loopback was allowed (or written behind the validation):
    its connection test is refused where the client connects, and the cluster sees no request."""
    fabric = fabric_for()
    cluster.clear_requests()
    with production_networks():
        run_test(fabric)
    assert cluster.requests == []
    assert (fabric.connection_status, fabric.connection_error_code) == ("failed", "bad_configuration")
    assert "127.0.0.1 is in 127.0.0.0/8" in fabric.connection_error


def test_the_workers_own_proxy_on_loopback_is_used_for_an_allowed_server(monkeypatch):
    """The proxy is the operator's (HTTPS_PROXY of the worker; a kubeconfig's proxy-url is refused):
    one on the NetBox host itself is asked, with loopback blocked, for a server that is allowed."""
    with listener() as proxy:
        fabric = make_fabric("proxied", server="https://10.255.255.1:6443", token="t0ken")
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        with production_networks():
            run_test(fabric)
        assert proxy.accepted()
    assert fabric.connection_error_code == "timeout"  # the proxy never answers


def test_through_the_workers_proxy_the_servers_own_address_is_checked(monkeypatch):
    """With HTTPS_PROXY set, the connection goes to the proxy (allowed here), which would reach the
    server for us: the server's address is checked before, and the proxy is never asked."""
    with listener() as proxy:
        fabric = make_fabric("ssrf", server="https://metadata.invalid", token="t0ken")
        HedgehogFabric.objects.filter(pk=fabric.pk).update(kubernetes_server="https://169.254.169.254")
        fabric.refresh_from_db()
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        run_test(fabric)
        assert not proxy.accepted(), "the proxy was asked to reach a blocked address"
    assert fabric.connection_error_code == "bad_configuration"
    assert "169.254.169.254 is in 169.254.0.0/16" in fabric.connection_error
