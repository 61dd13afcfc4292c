"""The fixtures every test may use: one emulated Kubernetes API server for the whole session, short
client timeouts, and fabrics pointing at it.

The cluster is a real HTTPS server on 127.0.0.1 (hedgehog_kube_emulator) with bearer-token auth,
seeded with the demo fabric before each test; the plugin talks to it with the official kubernetes
client, unpatched. Tests of the emulator itself (tests/emulator/) start their own.
"""

import pytest

from hedgehog_kube_emulator import EmulatedCluster, demo_fabric_yaml
from tests.support.fabrics import CONNECT_TIMEOUT, REQUEST_TIMEOUT, TOKEN, connected_fabric, make_fabric
from tests.support.settings import plugin_settings


@pytest.fixture(autouse=True)
def short_timeouts():
    with plugin_settings(connect_timeout=CONNECT_TIMEOUT, request_timeout=REQUEST_TIMEOUT) as config:
        yield config


@pytest.fixture(scope="session")
def emulated_cluster():
    with EmulatedCluster(token=TOKEN) as cluster:
        yield cluster


@pytest.fixture
def cluster(emulated_cluster):
    """The session's cluster holding exactly the demo fabric, fault-free, with an empty request log."""
    emulated_cluster.reset()
    emulated_cluster.seed(demo_fabric_yaml())
    emulated_cluster.clear_faults()
    emulated_cluster.clear_requests()
    yield emulated_cluster
    assert emulated_cluster.errors == []
    emulated_cluster.reset()


@pytest.fixture
def fabric_for(cluster):
    """fabric_for(target=cluster, name=..., token=..., ca=..., **fields): a fabric reaching the cluster
    by its URL with its token and CA (each can be replaced), saved as the forms save it."""

    def build(target=None, name="dc1", **fields):
        target = target or cluster
        fields.setdefault("server", target.url)
        fields.setdefault("token", target.token)
        fields.setdefault("ca", target.ca_pem)
        return make_fabric(name, **fields)

    return build


@pytest.fixture
def fabric(cluster, db):
    """A fabric connected to the cluster (by a real connection test) and active."""
    return connected_fabric(cluster)
