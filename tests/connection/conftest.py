"""Fixtures of the connection tests: an emulated cluster, short client timeouts, fabrics pointing at it.

The cluster is a real HTTPS server on 127.0.0.1 (hedgehog_kube_emulator.EmulatedCluster) with
bearer-token auth; the plugin talks to it with the official kubernetes client, unpatched.
"""

import pytest

from hedgehog_kube_emulator import EmulatedCluster

from .helpers import CONNECT_TIMEOUT, REQUEST_TIMEOUT, TOKEN, make_fabric, plugin_settings


@pytest.fixture(autouse=True)
def short_timeouts():
    with plugin_settings(connect_timeout=CONNECT_TIMEOUT, request_timeout=REQUEST_TIMEOUT) as config:
        yield config


@pytest.fixture(scope="session")
def shared_cluster():
    with EmulatedCluster(token=TOKEN) as cluster:
        yield cluster


@pytest.fixture
def cluster(shared_cluster):
    """The session's cluster, fault-free, in mode ok and with an empty request log, for each test."""
    shared_cluster.clear_faults()
    shared_cluster.clear_requests()
    yield shared_cluster
    assert shared_cluster.errors == []
    shared_cluster.clear_faults()


@pytest.fixture
def fabric_for(cluster):
    """fabric_for(target=cluster, name=..., token=..., ca=..., **fields): a fabric reaching the cluster
    by its URL with its token and CA (each can be replaced)."""

    def build(target=None, name="dc1", **fields):
        target = target or cluster
        fields.setdefault("server", target.url)
        fields.setdefault("token", target.token)
        fields.setdefault("ca", target.ca_pem)
        return make_fabric(name, **fields)

    return build
