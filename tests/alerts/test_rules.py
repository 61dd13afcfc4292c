"""The alert rules (state/alerts.py) applied by the alert service with every transition: active +
failed opens a high alert, active + error a medium one, drift a low one; a recurrence bumps the open
alert instead of opening another; when the condition clears the alert resolves itself."""

import pytest
from django.utils import timezone

from netbox_hedgehog.models import AlertStatusChange, HedgehogFabric, ReconciliationAlert
from netbox_hedgehog.services import alerts
from netbox_hedgehog.services.state import transition
from netbox_hedgehog.state import alerts as a

pytestmark = pytest.mark.django_db


def connected(name="f", status="active"):
    fabric = HedgehogFabric.objects.create(name=name)
    transition(fabric, "connection_status", "testing")
    transition(fabric, "connection_status", "connected")
    if status != "planned":
        transition(fabric, "status", "active")
    return fabric


def fail(fabric, why="the server went away"):
    transition(
        fabric,
        "connection_status",
        "failed",
        reason=why,
        details={"connection_attempts": fabric.connection_attempts + 1},
    )


def open_of(fabric, kind=None):
    alerts_ = ReconciliationAlert.objects.filter(fabric=fabric, status__in=a.OPEN)
    return list(alerts_.filter(type=kind) if kind else alerts_)


def test_an_active_fabric_losing_its_connection_opens_one_high_alert_that_resolves_itself():
    fabric = connected()
    fail(fabric, "refused at 10.0.0.1")
    (alert,) = open_of(fabric)
    assert (alert.type, alert.severity, alert.status, alert.occurrences) == (
        "connection_failure",
        "high",
        "active",
        1,
    )
    assert "refused at 10.0.0.1" in alert.message and alert.suggested_action
    assert HedgehogFabric.objects.get(pk=fabric.pk).open_alerts == {"connection_failure": "high"}
    # a retry in progress is still the same failure; failing again bumps it
    transition(fabric, "connection_status", "testing", trigger="retry")
    fail(fabric)
    (alert,) = open_of(fabric)
    assert alert.occurrences == 2 and alert.last_seen > alert.first_seen
    # connected again: resolved, automatically, with the time
    transition(fabric, "connection_status", "testing", trigger="retry")
    transition(fabric, "connection_status", "connected", details={"connection_attempts": 0})
    alert.refresh_from_db()
    assert (alert.status, alert.resolution, alert.resolved_by) == ("resolved", "automatic", None)
    assert alert.resolved_at is not None and open_of(fabric) == []
    assert HedgehogFabric.objects.get(pk=fabric.pk).open_alerts == {}
    assert [c.new for c in AlertStatusChange.objects.filter(alert=alert)] == ["active", "resolved"]


def test_a_planned_fabric_failing_opens_no_alert():
    fabric = connected(status="planned")
    fail(fabric)
    assert open_of(fabric) == []


def test_an_active_fabric_whose_sync_fails_opens_a_medium_alert_resolved_by_a_good_sync():
    fabric = connected()
    transition(fabric, "sync_status", "syncing")
    transition(fabric, "sync_status", "error", reason="[forbidden] listing vpcs is not allowed")
    (alert,) = open_of(fabric)
    assert (alert.type, alert.severity) == ("sync_error", "medium") and "forbidden" in alert.message
    transition(fabric, "sync_status", "syncing")
    assert open_of(fabric, "sync_error")  # syncing again: still in trouble until it succeeds
    transition(fabric, "sync_status", "in_sync")
    assert open_of(fabric) == []


def test_drift_opens_a_low_alert_and_a_failure_that_leaves_the_fabric_out_of_sync_keeps_it():
    fabric = connected()
    transition(fabric, "sync_status", "syncing")
    transition(fabric, "sync_status", "in_sync")
    transition(fabric, "sync_status", "out_of_sync", trigger="drift", reason="1 drifted")
    (alert,) = open_of(fabric)
    assert (alert.type, alert.severity) == ("drift", "low")
    fail(fabric)  # the connection alert opens; drift clears (not connected: it cannot be judged)
    assert {x.type for x in open_of(fabric)} == {"connection_failure"}


def test_maintenance_longer_than_the_review_time_opens_the_review_alert_and_leaving_it_resolves_it():
    fabric = connected()
    transition(fabric, "status", "maintenance", reason="switch swap")
    assert alerts.review_maintenance() == 0
    HedgehogFabric.objects.filter(pk=fabric.pk).update(
        status_changed=timezone.now() - timezone.timedelta(hours=25)
    )
    assert alerts.review_maintenance() == 1
    assert alerts.review_maintenance() == 0  # one open alert, not one per round
    (alert,) = open_of(fabric, "maintenance_overdue")
    assert alert.severity == "medium" and "25 h" in alert.message
    fabric.refresh_from_db()
    transition(fabric, "status", "active", reason="done")
    alert.refresh_from_db()
    assert (alert.status, alert.resolution) == ("resolved", "automatic")


def test_two_writers_opening_the_same_alert_open_one():
    fabric = connected()
    rule = a.BY_TYPE["connection_failure"]
    first = alerts.open_alert(fabric, rule, message="one")
    second = alerts.open_alert(fabric, rule, message="two")
    assert first[0] == second[0] and (first[1], second[1]) == (True, False)
    (alert,) = open_of(fabric)
    assert (alert.occurrences, alert.message) == (2, "two")


def test_a_resource_the_cluster_refused_opens_apply_rejected_and_the_next_good_apply_resolves_it(
    cluster, fabric
):
    from hedgehog_kube_emulator import demo_fabric_yaml  # noqa: F401  (the cluster holds the demo fabric)
    from netbox_hedgehog.jobs import resolve_alert
    from netbox_hedgehog.models import HedgehogResource
    from netbox_hedgehog.services.reconcile import reconcile
    from tests.support.fabrics import sync

    sync(fabric)
    switch = HedgehogResource.objects.filter(fabric=fabric, kind="Switch").first()
    cluster.patch_object(
        "wiring.githedgehog.com", "v1beta1", "switches", switch.name, {"spec": {"description": "by hand"}}
    )
    sync(fabric)
    cluster.fail_next(403, method="PATCH", message='admission webhook "wiring" denied the request: no')
    reconcile(fabric, "apply", dry_run=False)
    (alert,) = ReconciliationAlert.objects.filter(fabric=fabric, type="apply_rejected", status="active")
    assert alert.resource_id == switch.pk and "denied the request" in alert.message
    # resolving it by hand queues a reconcile of that one resource
    resolve_alert(alert, note="webhook fixed")
    alert.refresh_from_db()
    assert alert.follow_up_job is not None and alert.follow_up_job.data is None
    assert "Reconcile of" in alert.follow_up


def test_resolving_an_inconsistency_by_hand_runs_a_forced_validation():
    from netbox_hedgehog.jobs import resolve_alert

    fabric = connected()
    alert_id, _ = alerts.open_alert(fabric, a.BY_TYPE["state_inconsistency"], message="seen by an audit")
    alert = ReconciliationAlert.objects.get(pk=alert_id)
    resolve_alert(alert, note="checked")
    alert.refresh_from_db()
    assert (alert.status, alert.follow_up) == ("resolved", "Validation: The stored state is consistent.")


def test_resolving_a_sync_error_by_hand_queues_a_sync():
    from netbox_hedgehog.jobs import FabricSyncJob, resolve_alert

    fabric = connected()
    transition(fabric, "sync_status", "syncing")
    transition(fabric, "sync_status", "error", reason="[forbidden] no")
    (alert,) = open_of(fabric)
    resolve_alert(alert)
    (job,) = FabricSyncJob.get_jobs(fabric)
    alert.refresh_from_db()
    assert (alert.follow_up_job, alert.follow_up) == (job, f"Sync queued: job #{job.pk}")
    assert HedgehogFabric.objects.get(pk=fabric.pk).sync_status == "syncing"
