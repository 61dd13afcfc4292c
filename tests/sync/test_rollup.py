"""A fabric's counts of resources by sync state (its resources panel and REST `sync_summary`) are
right after every change: an edit, an edit that undoes a drift, a delete, a bulk edit, a bulk
delete; and they are kept without one count of the whole fabric per edited row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from netbox_hedgehog.jobs import FabricSyncJob
from netbox_hedgehog.models import HedgehogFabric, HedgehogResource
from netbox_hedgehog.services.rollup import summary

pytestmark = pytest.mark.django_db

LIST = "plugins-api:netbox_hedgehog-api:hedgehogresource-list"


@pytest.fixture
def synced(cluster, fabric):
    FabricSyncJob.enqueue(instance=fabric, immediate=True)
    fabric.refresh_from_db()
    assert fabric.sync_status == "in_sync"
    return fabric


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def stored_counts(fabric):
    fabric.refresh_from_db()
    return {state: n for state, n in fabric.sync_summary.items() if n}


def true_counts(fabric):
    return {state: n for state, n in summary(fabric).items() if n}


def counts_of_the_whole_fabric(queries):
    return [
        q["sql"] for q in queries if "GROUP BY" in q["sql"] and "netbox_hedgehog_hedgehogresource" in q["sql"]
    ]


def test_an_undone_drift_no_longer_counts_as_drifted(synced):
    vpc = HedgehogResource.objects.filter(fabric=synced, kind="VPC").first()
    original = dict(vpc.desired_spec)
    vpc.desired_spec = {**original, "mode": "l3vni"}
    vpc.save()
    assert stored_counts(synced).get("drifted") == 1
    vpc.desired_spec = original
    vpc.save()
    assert "drifted" not in stored_counts(synced)
    assert stored_counts(synced) == true_counts(synced)
    assert synced.sync_status == "out_of_sync"  # only a sync or a reconcile confirms agreement


def test_a_deleted_resource_leaves_the_counts(synced, api):
    server = HedgehogResource.objects.filter(fabric=synced, kind="Server").first()
    response = api.delete(
        reverse("plugins-api:netbox_hedgehog-api:hedgehogresource-detail", args=[server.pk])
    )
    assert response.status_code == 204
    assert stored_counts(synced) == true_counts(synced)


def test_a_bulk_edit_keeps_the_counts_right_without_counting_the_fabric_per_row(synced, api):
    vpcs = list(HedgehogResource.objects.filter(fabric=synced, kind="VPC"))
    assert len(vpcs) >= 2
    body = [{"id": v.pk, "desired_labels": {"team": "blue"}} for v in vpcs]
    with CaptureQueriesContext(connection) as queries:
        response = api.patch(reverse(LIST), body, format="json")
    assert response.status_code == 200, response.data
    assert stored_counts(synced) == true_counts(synced) == {**true_counts(synced)}
    assert stored_counts(synced).get("drifted") == len(vpcs)
    assert counts_of_the_whole_fabric(queries.captured_queries) == []


def test_a_bulk_delete_keeps_the_counts_right_without_counting_the_fabric_per_row(synced, api):
    servers = list(HedgehogResource.objects.filter(fabric=synced, kind="Server"))
    with CaptureQueriesContext(connection) as queries:
        response = api.delete(reverse(LIST), [{"id": s.pk} for s in servers], format="json")
    assert response.status_code == 204
    assert stored_counts(synced) == true_counts(synced)
    assert counts_of_the_whole_fabric(queries.captured_queries) == []


def test_a_resource_added_in_netbox_counts_as_missing_at_once(synced, api):
    response = api.post(
        reverse(LIST),
        {"fabric": synced.pk, "kind": "VPC", "name": "vpc-new", "desired_spec": {"subnets": {}}},
        format="json",
    )
    assert response.status_code == 201, response.data
    assert stored_counts(synced).get("missing") == 1 == true_counts(synced).get("missing")
    assert HedgehogFabric.objects.get(pk=synced.pk).sync_status == "out_of_sync"
