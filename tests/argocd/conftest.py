"""An emulated cluster that also serves Argo CD Applications (the session's cluster does not: it
stands for a cluster without Argo CD), seeded with the demo fabric whose switches have all applied
their configuration and send heartbeats now, and the Application "dc1" that deploys it: Synced,
Healthy, its last operation Succeeded."""

from datetime import UTC, datetime

import pytest

from hedgehog_kube_emulator import ARGOCD_RESOURCES, EmulatedCluster, demo_fabric_yaml
from netbox_hedgehog.jobs import ConnectionTestJob
from netbox_hedgehog.models import HedgehogFabric
from tests.support.fabrics import TOKEN

AGENTS = ("agent.githedgehog.com", "v1beta1", "agents")
REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def argocd_cluster_server():
    with EmulatedCluster(token=TOKEN, resources=ARGOCD_RESOURCES) as cluster:
        yield cluster


def all_applied(cluster):
    for agent in cluster.objects(*AGENTS):
        cluster.agent_applies(agent["metadata"]["name"], at=datetime.now(UTC))


@pytest.fixture
def argocd_cluster(argocd_cluster_server):
    cluster = argocd_cluster_server
    cluster.reset()
    cluster.seed(demo_fabric_yaml())
    all_applied(cluster)
    cluster.set_application("dc1", revision=REVISION)
    cluster.clear_requests()
    yield cluster
    assert cluster.errors == []
    cluster.reset()


def planned_fabric(cluster, name="dc1", **fields):
    """A planned fabric reaching the cluster, connected by a real connection test (not synced)."""
    fabric = HedgehogFabric(
        name=name, kubernetes_server=cluster.url, kubernetes_ca_cert=cluster.ca_pem, **fields
    )
    fabric.set_secret("kubernetes_token", cluster.token)
    fabric.full_clean()
    fabric.save()
    ConnectionTestJob.enqueue(instance=fabric, immediate=True)
    fabric.refresh_from_db()
    assert fabric.connection_status == "connected", fabric.connection_error
    assert fabric.status == "planned"
    return fabric
