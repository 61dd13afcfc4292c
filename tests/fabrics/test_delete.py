"""Deleting a fabric: its thousands of resources and its history go in seconds (bulk, with a
change-log row per resource in the same request), its jobs are stopped, a job of the fabric writing
meanwhile waits instead of breaking the deletion, and a refused deletion keeps everything."""

import threading
import uuid
from datetime import timedelta

import pytest
from core.choices import ObjectChangeActionChoices
from core.models import Job, ObjectChange
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models.signals import pre_delete
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from utilities.exceptions import AbortRequest

from netbox_hedgehog.jobs import FabricSyncJob, fabric_deletion
from netbox_hedgehog.models import HedgehogFabric, HedgehogResource, StateTransition
from netbox_hedgehog.services.state import InvalidTransition, transition

N = 1500


def fabric_with_resources(name="big", n=N):
    fabric = HedgehogFabric.objects.create(name=name)
    HedgehogResource.objects.bulk_create(
        [
            HedgehogResource(
                fabric=fabric,
                api_group="wiring.githedgehog.com",
                api_version="v1beta1",
                kind="Server",
                plural="servers",
                namespace="default",
                name=f"srv-{i:05d}",
                desired_spec={"profile": "x"},
                actual_spec={"profile": "x"},
                sync_state="in_sync",
                uid=str(uuid.uuid4()),
                resource_version=str(i),
            )
            for i in range(n)
        ],
        batch_size=1000,
    )
    transition(fabric, "status", "active", reason="deployed")
    return fabric


@pytest.fixture
def admin(db):
    user = get_user_model().objects.create_user("admin", is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def resource_changes(fabric_pk):
    return ObjectChange.objects.filter(
        related_object_id=fabric_pk,
        changed_object_type__model="hedgehogresource",
        action=ObjectChangeActionChoices.ACTION_DELETE,
    )


def test_deleting_a_fabric_in_the_ui_deletes_its_resources_with_one_change_row_each(admin):
    fabric = fabric_with_resources()
    url = reverse("plugins:netbox_hedgehog:hedgehogfabric_delete", kwargs={"pk": fabric.pk})
    response = admin.post(url, {"confirm": True})
    assert response.status_code == 302
    assert not HedgehogFabric.objects.filter(pk=fabric.pk).exists()
    assert not HedgehogResource.objects.exists() and not StateTransition.objects.exists()
    changes = resource_changes(fabric.pk)
    assert changes.count() == N
    fabric_change = ObjectChange.objects.get(changed_object_type__model="hedgehogfabric", action="delete")
    assert set(changes.values_list("request_id", flat=True)) == {fabric_change.request_id}


def test_deleting_a_fabric_over_rest_stops_its_jobs(db, django_capture_on_commit_callbacks):
    from users.models import Token

    user = get_user_model().objects.create_user("api", is_superuser=True)
    token = Token.objects.create(user=user)
    fabric = fabric_with_resources(n=10)
    with django_capture_on_commit_callbacks(execute=True):
        retry = FabricSyncJob.enqueue(instance=fabric, schedule_at=timezone.now() + timedelta(minutes=5))
    client = Client()
    url = reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-detail", kwargs={"pk": fabric.pk})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(url, HTTP_AUTHORIZATION=f"{token.get_auth_header_prefix()}{token.token}")
    assert response.status_code == 204, response.content
    assert not Job.objects.filter(pk=retry.pk).exists(), "its scheduled job is cancelled"
    assert resource_changes(fabric.pk).count() == 10


def test_a_refused_deletion_keeps_the_fabric_its_resources_and_history(admin):
    fabric = fabric_with_resources(n=20)

    def refuse(sender, instance, **kwargs):
        raise AbortRequest("Deletion refused by a protection rule")

    pre_delete.connect(refuse, sender=HedgehogFabric, dispatch_uid="test-refuse")
    try:
        url = reverse("plugins:netbox_hedgehog:hedgehogfabric_delete", kwargs={"pk": fabric.pk})
        response = admin.post(url, {"confirm": True})
    finally:
        pre_delete.disconnect(sender=HedgehogFabric, dispatch_uid="test-refuse")
    assert response.status_code == 302
    assert HedgehogResource.objects.filter(fabric=fabric).count() == 20
    assert StateTransition.objects.filter(fabric=fabric).exists()
    assert not resource_changes(fabric.pk).exists()


def test_bulk_delete_of_fabrics_clears_each_in_bulk(admin):
    a, b = fabric_with_resources("a", 30), fabric_with_resources("b", 40)
    url = reverse("plugins:netbox_hedgehog:hedgehogfabric_bulk_delete")
    response = admin.post(url, {"pk": [a.pk, b.pk], "confirm": True, "_confirm": True})
    assert response.status_code == 302
    assert not HedgehogFabric.objects.exists() and not HedgehogResource.objects.exists()
    assert resource_changes(a.pk).count() == 30 and resource_changes(b.pk).count() == 40


@pytest.mark.django_db(transaction=True)
def test_a_transition_written_while_the_fabric_is_deleted_waits_and_never_breaks_the_deletion():
    """Before: a health round's history row inserted between NetBox collecting the history and
    deleting the fabric failed the deletion with an IntegrityError (a 500)."""
    fabric = fabric_with_resources(n=50)
    locked, outcome = threading.Event(), {}

    def health_round():
        locked.wait(10)
        try:
            transition(
                HedgehogFabric.objects.get(pk=fabric.pk),
                "connection_status",
                "testing",
                trigger="health_check",
            )
            outcome["wrote"] = True
        except (InvalidTransition, HedgehogFabric.DoesNotExist) as exc:
            outcome["refused"] = type(exc).__name__
        finally:
            connection.close()

    other = threading.Thread(target=health_round)
    other.start()
    with fabric_deletion(fabric):
        locked.set()
        other.join(1.0)  # it cannot write: it waits for the fabric's row
        assert other.is_alive()
        HedgehogFabric.objects.get(pk=fabric.pk).delete()
    other.join(10)
    assert "refused" in outcome, outcome
    assert not HedgehogFabric.objects.filter(pk=fabric.pk).exists()
    assert not StateTransition.objects.exists()
