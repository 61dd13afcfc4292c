"""Decommissioning is final and cleans up: pending and scheduled jobs cancelled (periodic syncs
included, never rescheduled), stored credentials cleared, the page saying the connection is no
longer monitored; history and resources kept, resources read-only until purged. Deleting many
resources (a purge, the list's bulk delete) takes seconds and keeps a change-log row for each."""

from datetime import timedelta

import pytest
from core.models import Job, ObjectChange
from django.urls import reverse
from django.utils import timezone
from extras.models import JournalEntry, Tag, TaggedItem
from rest_framework.test import APIClient

from netbox_hedgehog.jobs import FabricSyncJob, keep_periodic_syncs, request_test
from netbox_hedgehog.models import HedgehogFabric, HedgehogResource, ReconciliationAlert, StateTransition
from netbox_hedgehog.services.state import transition
from tests.support.fabrics import sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(cluster, fabric):
    return sync(fabric)


def decommission(fabric, capture):
    with capture(execute=True):
        transition(fabric, "status", "decommissioned", reason="retired")
    fabric.refresh_from_db()
    return fabric


def test_decommissioning_cancels_jobs_clears_credentials_and_keeps_history_and_resources(
    synced, django_capture_on_commit_callbacks
):
    FabricSyncJob.enqueue(instance=synced, schedule_at=timezone.now() + timedelta(minutes=5), interval=5)
    with django_capture_on_commit_callbacks(execute=True):
        request_test(synced)
    assert Job.objects.filter(object_id=synced.pk, status__in=("pending", "scheduled")).count() == 2
    history = StateTransition.objects.filter(fabric=synced).count()
    resources = HedgehogResource.objects.filter(fabric=synced).count()

    decommission(synced, django_capture_on_commit_callbacks)

    assert not Job.objects.filter(object_id=synced.pk, status__in=("pending", "scheduled")).exists()
    assert (synced.kubernetes_token, synced.kubeconfig) == ("", "")
    assert HedgehogFabric.objects.get(pk=synced.pk).kubernetes_token == ""
    assert StateTransition.objects.filter(fabric=synced).count() > history  # kept, and the new rows
    assert HedgehogResource.objects.filter(fabric=synced).count() == resources
    keep_periodic_syncs()
    assert not FabricSyncJob.get_jobs(synced).filter(status="scheduled").exists()  # never again


def test_the_page_says_the_connection_is_no_longer_monitored(
    admin_client, synced, django_capture_on_commit_callbacks
):
    decommission(synced, django_capture_on_commit_callbacks)
    body = admin_client.get(synced.get_absolute_url()).content.decode()
    assert "No longer monitored" in body
    assert "Test connection" not in body
    assert "Purge resources" in body


def test_resources_of_a_decommissioned_fabric_are_read_only(
    admin_user, synced, django_capture_on_commit_callbacks
):
    decommission(synced, django_capture_on_commit_callbacks)
    resource = HedgehogResource.objects.filter(fabric=synced, kind="Switch").first()
    client = APIClient()
    client.force_authenticate(admin_user)
    url = reverse("plugins-api:netbox_hedgehog-api:hedgehogresource-detail", args=[resource.pk])
    response = client.patch(url, {"desired_spec": {"description": "x"}}, format="json")
    assert response.status_code == 400
    assert "decommissioned" in str(response.data["fabric"])


def test_a_purge_deletes_the_resources_keeps_the_history_and_logs_each_deletion(
    admin_client, synced, django_capture_on_commit_callbacks
):
    count = HedgehogResource.objects.filter(fabric=synced).count()
    decommission(synced, django_capture_on_commit_callbacks)
    url = reverse("plugins:netbox_hedgehog:hedgehogfabric_purge_resources", args=[synced.pk])
    admin_client.post(url)  # not confirmed
    assert HedgehogResource.objects.filter(fabric=synced).count() == count
    response = admin_client.post(url, {"confirm": "true"}, follow=True)
    assert f"{count} resources of dc1 deleted." in response.content.decode()
    assert not HedgehogResource.objects.filter(fabric=synced).exists()
    assert (
        ObjectChange.objects.filter(changed_object_type__model="hedgehogresource", action="delete").count()
        == count
    )
    synced.refresh_from_db()
    assert sum(synced.sync_summary.values()) == 0
    assert StateTransition.objects.filter(fabric=synced, new="decommissioned").exists()


def test_only_a_decommissioned_fabric_is_purged(admin_client, synced):
    url = reverse("plugins:netbox_hedgehog:hedgehogfabric_purge_resources", args=[synced.pk])
    admin_client.post(url, {"confirm": "true"})
    assert HedgehogResource.objects.filter(fabric=synced).exists()


def test_the_bulk_delete_removes_what_points_at_the_resources_and_logs_each_one(admin_client, synced):
    resources = list(HedgehogResource.objects.filter(fabric=synced, kind="Server"))
    tag = Tag.objects.create(name="doomed", slug="doomed")
    resources[0].tags.add(tag)
    JournalEntry.objects.create(assigned_object=resources[0], comments="note")
    ReconciliationAlert.objects.create(
        fabric=synced,
        resource=resources[0],
        type="apply_rejected",
        severity="warning",
        message="m",
        first_seen=timezone.now(),
        last_seen=timezone.now(),
    )
    url = reverse("plugins:netbox_hedgehog:hedgehogresource_bulk_delete")
    pks = [r.pk for r in resources]
    page = admin_client.post(url, {"pk": pks, "return_url": "/"})
    assert page.status_code == 200 and resources[0].name in page.content.decode()
    response = admin_client.post(url, {"pk": pks, "_confirm": "true", "confirm": "true", "return_url": "/"})
    assert response.status_code == 302
    assert not HedgehogResource.objects.filter(pk__in=pks).exists()
    assert not JournalEntry.objects.filter(assigned_object_id=resources[0].pk).exists()
    assert not ReconciliationAlert.objects.filter(resource_id__in=pks).exists()
    assert not TaggedItem.objects.filter(tag=tag).exists()
    changes = ObjectChange.objects.filter(changed_object_type__model="hedgehogresource", action="delete")
    assert sorted(changes.values_list("changed_object_id", flat=True)) == sorted(pks)
    assert changes.first().prechange_data["name"] in {r.name for r in resources}
    synced.refresh_from_db()
    assert synced.sync_summary["in_sync"] == HedgehogResource.objects.filter(fabric=synced).count()
