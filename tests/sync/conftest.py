"""Fixtures of the sync tests: an emulated cluster seeded with the demo fabric, a connected fabric."""

import pytest

from hedgehog_kube_emulator import EmulatedCluster, demo_fabric_yaml
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.services.state import transition
from tests.settings_override import plugin_settings  # noqa: F401  (re-exported)

TOKEN = "sync-test-token-4kq"


@pytest.fixture(autouse=True)
def short_timeouts():
    with plugin_settings(connect_timeout=2, request_timeout=5) as config:
        yield config


@pytest.fixture(scope="session")
def sync_cluster():
    with EmulatedCluster(token=TOKEN) as cluster:
        yield cluster


@pytest.fixture
def cluster(sync_cluster):
    """A cluster holding exactly the demo fabric, fault-free."""
    sync_cluster.reset()
    sync_cluster.seed(demo_fabric_yaml())
    yield sync_cluster
    sync_cluster.reset()


def connected_fabric(cluster, name="dc1"):
    """A fabric pointing at the cluster, brought to connected by a real connection test."""
    from netbox_hedgehog.jobs import ConnectionTestJob

    fabric = HedgehogFabric(name=name, kubernetes_server=cluster.url, kubernetes_ca_cert=cluster.ca_pem)
    fabric.set_secret("kubernetes_token", TOKEN)
    fabric.full_clean()
    fabric.save()
    ConnectionTestJob.enqueue(instance=fabric, immediate=True)
    fabric.refresh_from_db()
    assert fabric.connection_status == "connected", fabric.connection_error
    transition(fabric, "status", "active")
    return fabric


@pytest.fixture
def fabric(cluster, db):
    return connected_fabric(cluster)
