"""A fabric's sync_interval becomes one scheduled, repeating sync, kept by every health round: made
when missing, replaced when the interval changed, removed when it is cleared; a fabric in
maintenance keeps what it has. Keeping them costs the same few queries for one fabric or many."""

import pytest
from core.choices import JobStatusChoices
from django.db import connection
from django.test.utils import CaptureQueriesContext

from netbox_hedgehog.jobs import FabricSyncJob, keep_periodic_syncs
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.services.state import transition

pytestmark = pytest.mark.django_db


def fabric(name, interval=None, status="active"):
    row = HedgehogFabric(name=name, sync_interval=interval)
    row.full_clean()
    row.save()
    if status != "planned":
        transition(row, "status", "active")
    if status == "maintenance":
        transition(row, "status", "maintenance")
    return row


def scheduled(row):
    return sorted(
        FabricSyncJob.get_jobs(row)
        .filter(status=JobStatusChoices.STATUS_SCHEDULED, interval__isnull=False)
        .values_list("interval", flat=True)
    )


def test_an_interval_becomes_one_repeating_sync_and_a_second_round_adds_none():
    every_15 = fabric("dc1", 15)
    none = fabric("dc2")
    assert keep_periodic_syncs() == 1
    assert scheduled(every_15) == [15]
    assert scheduled(none) == []
    assert keep_periodic_syncs() == 0
    assert scheduled(every_15) == [15]


def test_a_changed_interval_replaces_the_sync_and_a_cleared_one_removes_it():
    row = fabric("dc1", 15)
    keep_periodic_syncs()
    HedgehogFabric.objects.filter(pk=row.pk).update(sync_interval=30)
    assert keep_periodic_syncs() == 1
    assert scheduled(row) == [30]
    HedgehogFabric.objects.filter(pk=row.pk).update(sync_interval=None)
    assert keep_periodic_syncs() == 0
    assert scheduled(row) == []


def test_a_planned_fabric_is_kept_too_and_one_in_maintenance_keeps_what_it_has():
    planned = fabric("dc1", 10, status="planned")
    resting = fabric("dc2", 10, status="active")
    keep_periodic_syncs()
    transition(resting, "status", "maintenance")
    HedgehogFabric.objects.filter(pk=resting.pk).update(sync_interval=None)
    keep_periodic_syncs()
    assert scheduled(planned) == [10]
    assert scheduled(resting) == [10]


def test_keeping_the_syncs_of_many_fabrics_costs_the_queries_of_one():
    def queries():
        keep_periodic_syncs()  # what is missing is made first; then nothing is
        with CaptureQueriesContext(connection) as captured:
            keep_periodic_syncs()
        return len(captured.captured_queries)

    fabric("dc0", 5)
    one = queries()
    for i in range(1, 25):
        fabric(f"dc{i}", 5 if i % 2 else None)
    assert queries() == one
