"""Maintenance windows act by themselves (time controlled in the tests), and maintenance suspends
what reaches the cluster: periodic syncs, health checks, retries, the edit-triggered test; a
person's connection test or reconcile preview is refused unless overridden, and the override is
kept (history row, journal)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from extras.models import JournalEntry
from rest_framework import status
from rest_framework.test import APIClient

from netbox_hedgehog.jobs import ConnectionTestJob, FabricSyncJob, MaintenanceWindowJob, request_test
from netbox_hedgehog.models import MaintenanceWindow, StateTransition
from netbox_hedgehog.services import connection, maintenance
from netbox_hedgehog.services.state import InvalidTransition, transition
from tests.support.fabrics import edit, sync

pytestmark = pytest.mark.django_db(transaction=True)

T0 = timezone.now().replace(microsecond=0) + timedelta(days=1)


def window(name, fabrics, start, end, reason="switch firmware"):
    """A window from T0 + start to T0 + end minutes."""
    w = MaintenanceWindow.objects.create(
        name=name, start=T0 + timedelta(minutes=start), end=T0 + timedelta(minutes=end), reason=reason
    )
    w.fabrics.set(fabrics)
    return w


def at(minutes):
    return maintenance.apply_windows(now=T0 + timedelta(minutes=minutes))


def status_of(fabric):
    fabric.refresh_from_db()
    return fabric.status


def last_status_row(fabric):
    return StateTransition.objects.filter(fabric=fabric, field="status").latest("pk")


def test_a_window_puts_its_fabrics_in_maintenance_at_its_start_and_back_to_active_at_its_end(fabric):
    window("firmware", [fabric], start=10, end=70)
    assert at(9) == {"entered": 0, "left": 0, "skipped": 0}
    assert status_of(fabric) == "active"
    assert at(10)["entered"] == 1
    assert status_of(fabric) == "maintenance"
    row = last_status_row(fabric)
    assert (row.previous, row.new, row.trigger) == ("active", "maintenance", "maintenance_window")
    assert "firmware" in row.reason and "switch firmware" in row.reason
    assert at(40) == {"entered": 0, "left": 0, "skipped": 0}  # nothing twice
    assert at(70)["left"] == 1
    assert status_of(fabric) == "active"
    row = last_status_row(fabric)
    assert (row.previous, row.new, row.trigger) == ("maintenance", "active", "maintenance_window")


def test_a_fabric_put_in_maintenance_by_hand_is_not_taken_out_by_a_window_ending(fabric):
    window("firmware", [fabric], start=10, end=20)
    transition(fabric, "status", "maintenance", reason="cabling, by hand")
    at(15)
    assert at(25)["left"] == 0
    assert status_of(fabric) == "maintenance"
    assert last_status_row(fabric).reason == "cabling, by hand"


def test_overlapping_windows_behave_as_one(fabric):
    window("first", [fabric], start=0, end=30)
    window("second", [fabric], start=20, end=60)
    at(5)
    assert at(30) == {"entered": 0, "left": 0, "skipped": 0}  # still covered by the second
    assert status_of(fabric) == "maintenance"
    assert at(60)["left"] == 1
    assert status_of(fabric) == "active"
    assert StateTransition.objects.filter(fabric=fabric, field="status", new="maintenance").count() == 1


def test_a_window_skips_a_fabric_that_cannot_enter_maintenance_any_more_and_says_why(fabric):
    window("firmware", [fabric], start=0, end=30)
    transition(fabric, "status", "decommissioned")
    said = []
    assert maintenance.apply_windows(now=T0 + timedelta(minutes=1), log=said.append)["skipped"] == 1
    assert status_of(fabric) == "decommissioned"
    assert "not put into maintenance by window firmware" in said[0]


def test_the_system_job_starts_and_ends_windows_by_itself(fabric):
    now = timezone.now()
    w = MaintenanceWindow.objects.create(
        name="now", start=now - timedelta(minutes=1), end=now + timedelta(hours=1), reason="r"
    )
    w.fabrics.set([fabric])
    MaintenanceWindowJob.enqueue(immediate=True)
    assert status_of(fabric) == "maintenance"
    MaintenanceWindow.objects.filter(pk=w.pk).update(end=now - timedelta(seconds=1))
    job = MaintenanceWindowJob.enqueue(immediate=True)
    job.refresh_from_db()
    assert status_of(fabric) == "active"
    assert job.data == {"entered": 0, "left": 1, "skipped": 0}


# --- suspension --------------------------------------------------------------------------------


@pytest.fixture
def in_maintenance(cluster, fabric):
    sync(fabric)
    transition(fabric, "status", "maintenance", reason="upgrade")
    fabric.refresh_from_db()
    cluster.clear_requests()
    return fabric


def test_periodic_syncs_health_checks_and_sync_retries_leave_a_fabric_in_maintenance_alone(
    cluster, in_maintenance
):
    # a periodic job as the scheduler runs it (NetBox cannot run a repeating job immediately)
    periodic = FabricSyncJob.enqueue(
        instance=in_maintenance, schedule_at=timezone.now() + timedelta(hours=1), interval=5
    )
    FabricSyncJob.handle(periodic)
    periodic.refresh_from_db()
    assert periodic.data == {"suspended": "maintenance"}
    retry = FabricSyncJob.enqueue(instance=in_maintenance, immediate=True, trigger="retry")
    retry.refresh_from_db()
    assert retry.data == {"suspended": "maintenance"}
    assert connection.health_check_round() == {}
    assert cluster.requests == []
    in_maintenance.refresh_from_db()
    assert in_maintenance.sync_status == "in_sync"


def test_a_manual_test_is_refused_in_maintenance_unless_overridden_and_the_override_is_kept(
    cluster, in_maintenance
):
    with pytest.raises(InvalidTransition) as refused:
        request_test(in_maintenance)
    assert refused.value.code == "in_maintenance"
    assert "maintenance" in refused.value.message
    in_maintenance.refresh_from_db()
    assert in_maintenance.connection_status == "connected"
    job, created = request_test(in_maintenance, override=True)
    assert created
    row = StateTransition.objects.filter(fabric=in_maintenance, field="connection_status").latest("pk")
    assert row.new == "testing" and "overriding maintenance" in row.reason
    (entry,) = JournalEntry.objects.filter(assigned_object_id=in_maintenance.pk)
    assert entry.kind == "warning" and "Maintenance overridden" in entry.comments


def test_a_credentials_edit_in_maintenance_tests_nothing_until_the_maintenance_ends(cluster, in_maintenance):
    before = ConnectionTestJob.get_jobs(in_maintenance).count()
    in_maintenance.set_secret("kubernetes_token", cluster.token)
    in_maintenance.kubernetes_server = cluster.url + "/"
    edit(in_maintenance)
    assert ConnectionTestJob.get_jobs(in_maintenance).count() == before
    assert cluster.requests == []
    transition(in_maintenance, "status", "active")
    assert ConnectionTestJob.get_jobs(in_maintenance).count() == before + 1
    in_maintenance.refresh_from_db()
    assert in_maintenance.connection_status == "testing"
    assert "Maintenance ended" in StateTransition.objects.filter(fabric=in_maintenance).latest("pk").reason


@pytest.fixture
def client(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def test_the_rest_api_refuses_a_test_and_a_dry_run_in_maintenance_unless_overridden(
    cluster, in_maintenance, client
):
    base = "plugins-api:netbox_hedgehog-api:hedgehogfabric-"
    test_url = reverse(base + "test-connection", args=[in_maintenance.pk])
    response = client.post(test_url)
    assert response.status_code == status.HTTP_409_CONFLICT
    assert response.data["code"] == "in_maintenance"
    reconcile_url = reverse(base + "reconcile", args=[in_maintenance.pk])
    response = client.post(reconcile_url, {"direction": "apply"}, format="json")
    assert response.status_code == status.HTTP_409_CONFLICT
    assert response.data["code"] == "in_maintenance"
    assert cluster.requests == []
    response = client.post(reconcile_url, {"direction": "apply", "override_maintenance": True}, format="json")
    assert response.status_code == status.HTTP_200_OK
    assert response.data["actions"] == []
    response = client.post(test_url + "?override_maintenance=true")
    assert response.status_code == status.HTTP_202_ACCEPTED
    assert JournalEntry.objects.filter(assigned_object_id=in_maintenance.pk).count() == 2
