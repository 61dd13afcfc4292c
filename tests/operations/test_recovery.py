"""Recovery for syncs, like connections: a failed sync is retried with exponential backoff and
jitter (attempts and next attempt kept, reset by a success); new credentials that mend the
connection resume the sync; automatic reconciliation (off by default) answers drift at most once
per interval; a health check that finds nothing new writes routine rows, hidden by default, and
keeps "connected since"."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from netbox_hedgehog.jobs import FabricSyncJob, ReconcileJob
from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services import connection
from netbox_hedgehog.services.state import transition
from netbox_hedgehog.services.sync import retry_delay
from tests.support.fabrics import edit, run_test, sync
from tests.support.settings import plugin_settings

pytestmark = pytest.mark.django_db

WIRING = "wiring.githedgehog.com"
VPCS = "/apis/vpc.githedgehog.com/v1beta1/namespaces/default/vpcs"


def test_the_retry_delays_double_from_5_seconds_up_to_3_minutes_with_jitter():
    with plugin_settings(retry_jitter=0):
        assert [retry_delay(n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 180, 180]
    with plugin_settings(retry_jitter=0.2):
        assert retry_delay(1, rand=lambda: 0.0) == pytest.approx(4.0)
        assert retry_delay(1, rand=lambda: 1.0) == pytest.approx(6.0)
    with plugin_settings(retry_jitter=0, sync_retry_base=2, sync_retry_factor=3, sync_retry_max=50):
        assert [retry_delay(n) for n in (1, 2, 3, 4)] == [2, 6, 18, 50]


def scheduled_retries(fabric):
    return FabricSyncJob.get_jobs(fabric).filter(status="scheduled", interval__isnull=True)


def run_retry(fabric):
    """The scheduled retry, run as the scheduler runs it once it is due (time moved on)."""
    (job,) = scheduled_retries(fabric)
    HedgehogFabric.objects.filter(pk=fabric.pk).update(next_sync_attempt=timezone.now())
    FabricSyncJob.handle(job, trigger="retry")
    job.refresh_from_db()
    fabric.refresh_from_db()
    return job


def test_a_failed_sync_is_retried_with_backoff_until_it_succeeds_and_then_forgets(cluster, fabric):
    cluster.fail_next(500, count=None, verb="list", path=VPCS)
    with plugin_settings(retry_jitter=0):
        before = timezone.now()
        sync(fabric)
        assert (fabric.sync_status, fabric.sync_attempts) == ("error", 1)
        assert (
            before + timedelta(seconds=5) <= fabric.next_sync_attempt <= timezone.now() + timedelta(seconds=5)
        )
        (job,) = scheduled_retries(fabric)
        assert abs((job.scheduled - fabric.next_sync_attempt).total_seconds()) < 1

        first = timezone.now()
        run_retry(fabric)
        assert fabric.sync_attempts == 2
        delay = (fabric.next_sync_attempt - first).total_seconds()
        assert 10 <= delay < 12
        assert scheduled_retries(fabric).count() == 1  # replaced, never piling up

        cluster.clear_faults()
        job = run_retry(fabric)
    assert job.status == "completed"
    assert (fabric.sync_status, fabric.sync_attempts, fabric.next_sync_attempt) == ("in_sync", 0, None)
    assert not scheduled_retries(fabric).exists()


def test_a_retry_that_is_no_longer_due_does_nothing(cluster, fabric):
    cluster.fail_next(500, count=1, verb="list", path=VPCS)
    sync(fabric)
    sync(fabric)  # someone synced by hand meanwhile: in sync again
    assert fabric.sync_status == "in_sync"
    (job,) = scheduled_retries(fabric)
    cluster.clear_requests()
    FabricSyncJob.handle(job, trigger="retry")
    assert cluster.requests == []
    assert "Retry skipped" in "\n".join(e["message"] for e in job.log_entries)


def test_new_credentials_that_mend_the_connection_resume_the_sync(
    cluster, fabric, django_capture_on_commit_callbacks
):
    sync(fabric)
    cluster.set_mode("forbidden")
    sync(fabric)
    assert (fabric.connection_status, fabric.connection_error_code, fabric.sync_status) == (
        "failed",
        "forbidden",
        "error",
    )
    assert fabric.next_sync_attempt is None  # the connection's own retry comes first
    cluster.set_mode("ok")
    fabric.set_secret("kubernetes_token", cluster.token)  # the operator pastes a token with the rights
    with django_capture_on_commit_callbacks(execute=True):
        edit(fabric)
        run_test(fabric)
    assert fabric.connection_status == "connected"
    (resumed,) = FabricSyncJob.get_jobs(fabric).filter(status="pending")
    assert fabric.sync_status == "syncing"
    row = StateTransition.objects.filter(fabric=fabric, field="sync_status").latest("pk")
    assert "resuming the sync" in row.reason


def drift(cluster, fabric, text):
    name = cluster.objects(WIRING, "v1beta1", "switches")[0]["metadata"]["name"]
    cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": text}})


def test_automatic_reconciliation_is_off_by_default(cluster, fabric):
    sync(fabric)
    drift(cluster, fabric, "edited by hand")
    sync(fabric)
    assert fabric.sync_status == "out_of_sync"
    assert not ReconcileJob.get_jobs(fabric).exists()


def test_drift_found_by_a_sync_queues_the_policy_reconcile_at_most_once_per_interval(
    cluster, fabric, django_capture_on_commit_callbacks
):
    sync(fabric)
    HedgehogFabric.objects.filter(pk=fabric.pk).update(auto_reconcile="apply")
    drift(cluster, fabric, "edited by hand")
    with django_capture_on_commit_callbacks(execute=True):
        sync(fabric)
    (job,) = ReconcileJob.get_jobs(fabric)
    fabric.refresh_from_db()
    assert fabric.sync_status == "syncing" and fabric.last_auto_reconcile is not None
    row = StateTransition.objects.filter(fabric=fabric, field="sync_status").latest("pk")
    assert (row.trigger, "Automatic reconciliation" in row.reason) == ("reconciliation", True)
    ReconcileJob.handle(job, direction="apply", prune=False)
    fabric.refresh_from_db()
    assert fabric.sync_status == "in_sync"
    assert cluster.objects(WIRING, "v1beta1", "switches")[0]["spec"].get("description") != "edited by hand"

    drift(cluster, fabric, "edited again")
    with django_capture_on_commit_callbacks(execute=True):
        sync(fabric)
    assert fabric.sync_status == "out_of_sync"
    assert ReconcileJob.get_jobs(fabric).count() == 1  # not again within auto_reconcile_interval
    HedgehogFabric.objects.filter(pk=fabric.pk).update(
        last_auto_reconcile=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        sync(fabric)
    assert ReconcileJob.get_jobs(fabric).count() == 2


def test_drift_found_by_the_watch_queues_the_policy_reconcile_too(
    cluster, fabric, django_capture_on_commit_callbacks
):
    sync(fabric)
    HedgehogFabric.objects.filter(pk=fabric.pk).update(auto_reconcile="adopt")
    fabric.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        transition(fabric, "sync_status", "out_of_sync", trigger="watch", reason="1 drifted")
    (job,) = ReconcileJob.get_jobs(fabric)
    assert "Adopt" in StateTransition.objects.filter(fabric=fabric).latest("pk").reason


def test_a_health_check_that_finds_nothing_new_writes_routine_rows_and_keeps_connected_since(cluster, fabric):
    since = fabric.connected_since
    assert since is not None
    connection.health_check_round()
    fabric.refresh_from_db()
    assert fabric.connected_since == since
    rows = list(StateTransition.objects.filter(fabric=fabric, trigger="health_check").order_by("pk"))
    assert [(r.previous, r.new, r.routine) for r in rows] == [
        ("connected", "testing", True),
        ("testing", "connected", True),
    ]
    cluster.set_mode("unauthorized")
    connection.health_check_round()
    fabric.refresh_from_db()
    assert fabric.connected_since is None
    assert not StateTransition.objects.filter(fabric=fabric).latest("pk").routine  # news: not routine
    cluster.set_mode("ok")


def test_history_pages_hide_routine_rows_unless_asked(admin_client, cluster, fabric):
    connection.health_check_round()
    url = reverse("plugins:netbox_hedgehog:statetransition_list")
    badge = "Health check</span>"  # the trigger column's badge
    assert badge not in admin_client.get(url).content.decode()
    assert admin_client.get(url + "?routine=all").content.decode().count(badge) == 2
    assert admin_client.get(url + "?routine=only").content.decode().count(badge) == 2
    fabric_history = admin_client.get(url + f"?fabric_id={fabric.pk}").content.decode()
    assert badge not in fabric_history and "Connection test</span>" in fabric_history
