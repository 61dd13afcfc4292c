"""Fixtures of the sync tests: an emulated cluster seeded with the demo fabric, a connected fabric."""

import copy
from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.state import transition
from netbox_hedgehog.testing.cluster import EmulatedCluster, demo_fabric_yaml

TOKEN = "sync-test-token-4kq"


@contextmanager
def plugin_settings(**values):
    config = copy.deepcopy(django_settings.PLUGINS_CONFIG)
    config["netbox_hedgehog"].update(values)
    with override_settings(PLUGINS_CONFIG=config):
        yield config["netbox_hedgehog"]


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
