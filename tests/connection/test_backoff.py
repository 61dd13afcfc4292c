"""Retries of failed connections: the backoff schedule, the attempt count, what resets it, and when
no retry is planned at all."""

from datetime import timedelta

import pytest
from core.choices import JobStatusChoices
from django.utils import timezone

from netbox_hedgehog import jobs
from netbox_hedgehog.jobs import ConnectionTestJob
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.services import connection
from netbox_hedgehog.services.state import transition
from tests.support.fabrics import (
    TOKEN,
    connection_rows,
    edit,
    job_log,
    make_fabric,
    plugin_settings,
    run_test,
)

pytestmark = pytest.mark.django_db

SCHEDULE = {"retry_backoff_base": 5, "retry_backoff_factor": 2, "retry_backoff_max": 180}


def scheduled_retries(fabric):
    return list(ConnectionTestJob.get_jobs(fabric).filter(status=JobStatusChoices.STATUS_SCHEDULED))


@pytest.fixture
def refused(cluster):
    """A fabric whose server refuses connections (each test of it fails at once)."""
    return make_fabric("refused", server=cluster.closed_port_url(), token=TOKEN)


# --- the schedule ----------------------------------------------------------------------------------


def test_the_delay_is_base_times_factor_to_the_retry_number_capped_at_max():
    with plugin_settings(**SCHEDULE, retry_jitter=0.2):
        # rand() = 0.5 is the middle of the jitter band: no jitter
        delays = [connection.backoff_delay(n, rand=lambda: 0.5) for n in range(1, 10)]
    assert delays == [5, 10, 20, 40, 80, 160, 180, 180, 180]


def test_the_jitter_spreads_each_delay_by_at_most_the_configured_fraction():
    with plugin_settings(**SCHEDULE, retry_jitter=0.2):
        assert connection.backoff_delay(3, rand=lambda: 0.0) == pytest.approx(20 * 0.8)
        assert connection.backoff_delay(3, rand=lambda: 0.999999) == pytest.approx(20 * 1.2, rel=1e-5)
        assert connection.backoff_delay(20, rand=lambda: 0.999999) <= 180 * 1.2
        for attempts in range(1, 12):
            nominal = min(180, 5 * 2 ** (attempts - 1))
            for _ in range(50):
                assert nominal * 0.8 <= connection.backoff_delay(attempts) <= nominal * 1.2


def test_the_defaults_start_at_ten_seconds_and_stop_at_ten_minutes():
    no_jitter = lambda: 0.5  # noqa: E731
    assert connection.backoff_delay(1, rand=no_jitter) == 10
    assert connection.backoff_delay(2, rand=no_jitter) == 20
    assert connection.backoff_delay(30, rand=no_jitter) == 600


# --- consecutive failures, success and manual tests -------------------------------------------------


def test_consecutive_failures_count_up_and_push_the_next_attempt_out(refused):
    with plugin_settings(**SCHEDULE, retry_jitter=0):
        for attempts, delay in [(1, 5), (2, 10), (3, 20), (4, 40)]:
            run_test(refused)
            assert refused.connection_attempts == attempts
            waited = refused.next_connection_attempt - refused.connection_status_changed
            assert waited.total_seconds() == pytest.approx(delay, abs=0.5)
    assert [r.new for r in connection_rows(refused)][-8:] == ["testing", "failed"] * 4


def test_a_failed_test_schedules_one_retry_job_at_the_next_attempt_and_keeps_its_own_history(refused):
    first = run_test(refused)
    second = run_test(refused)
    retries = scheduled_retries(refused)
    assert len(retries) == 1  # the second failure replaced the first one's retry
    assert retries[0].scheduled == refused.next_connection_attempt
    # Both tests still exist, finished, and the history names each (enqueue_once used to delete the
    # running job when it scheduled its retry, and the history lost it).
    for job in (first, second):
        job.refresh_from_db()
        assert job.status == JobStatusChoices.STATUS_FAILED
    failed = [r for r in connection_rows(refused) if r.new == "failed"]
    assert [r.job for r in failed] == [first, second]


def test_a_success_resets_the_attempts_and_the_next_attempt(cluster, refused):
    run_test(refused)
    run_test(refused)
    assert refused.connection_attempts == 2
    refused.kubernetes_server = cluster.url
    refused.kubernetes_ca_cert = cluster.ca_pem
    edit(refused)
    run_test(refused)
    assert refused.connection_status == "connected"
    assert (refused.connection_attempts, refused.next_connection_attempt, refused.connection_error_code) == (
        0,
        None,
        "",
    )


def test_a_manual_test_resets_the_attempts_and_replaces_the_scheduled_retry(refused):
    run_test(refused)
    run_test(refused)
    assert refused.connection_attempts == 2 and len(scheduled_retries(refused)) == 1

    job, created = jobs.request_test(refused)

    assert created
    refused.refresh_from_db()
    assert refused.connection_status == "testing"
    assert (refused.connection_attempts, refused.next_connection_attempt) == (0, None)
    assert scheduled_retries(refused) == []
    row = connection_rows(refused)[-1]
    assert (row.previous, row.new, row.trigger, row.job) == ("failed", "testing", "manual", job)
    assert job.status == JobStatusChoices.STATUS_PENDING

    ConnectionTestJob.handle(job)  # the queued job, run as a worker would
    refused.refresh_from_db()
    assert refused.connection_attempts == 1  # counting starts again


@pytest.mark.parametrize("status", ["maintenance", "decommissioned"])
def test_no_retry_is_planned_in_maintenance_or_decommissioned(cluster, status):
    fabric = make_fabric(server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    run_test(fabric)
    assert fabric.connection_status == "connected"
    transition(fabric, "status", "active")
    transition(fabric, "status", status)
    cluster.set_mode("unauthorized")
    if status == "maintenance":
        run_test(fabric)  # a manual test still runs in maintenance
    else:
        # a decommissioned fabric is never tested again; a Kubernetes error still fails it
        connection.report_kubernetes_error(fabric, connection.KubeFailure("unauthorized", "401"))
        fabric.refresh_from_db()
    assert fabric.connection_status == "failed"
    assert fabric.connection_attempts == 1
    assert fabric.next_connection_attempt is None
    assert scheduled_retries(fabric) == []


def test_a_decommissioned_fabric_is_not_tested_and_the_job_says_why(cluster):
    fabric = make_fabric(server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    run_test(fabric)
    transition(fabric, "status", "active")
    transition(fabric, "status", "decommissioned")
    cluster.clear_requests()
    job = run_test(fabric)
    assert job.status == JobStatusChoices.STATUS_FAILED
    assert "decommissioned" in job_log(job)
    assert fabric.connection_status == "connected"
    assert cluster.requests == []


# --- a scheduled retry runs only when it is still due ---------------------------------------------


def test_a_due_retry_tests_the_fabric_with_the_retry_trigger(refused):
    run_test(refused)
    HedgehogFabric.objects.filter(pk=refused.pk).update(next_connection_attempt=timezone.now())
    job = run_test(refused, trigger="retry")
    assert refused.connection_attempts == 2
    assert [(r.new, r.trigger, r.job) for r in connection_rows(refused)[-2:]] == [
        ("testing", "retry", job),
        ("failed", "retry", job),
    ]


def test_a_retry_that_is_no_longer_due_is_skipped(cluster, refused):
    run_test(refused)
    later = timezone.now() + timedelta(minutes=5)  # a health check round retried meanwhile
    HedgehogFabric.objects.filter(pk=refused.pk).update(next_connection_attempt=later)
    rows = len(connection_rows(refused))
    job = run_test(refused, trigger="retry")
    assert job.status == JobStatusChoices.STATUS_COMPLETED
    assert "Retry skipped" in job_log(job)
    assert (len(connection_rows(refused)), refused.connection_attempts) == (rows, 1)


def test_a_retry_of_a_fabric_that_is_connected_again_is_skipped(cluster):
    fabric = make_fabric(server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    run_test(fabric)
    cluster.clear_requests()
    job = run_test(fabric, trigger="retry")
    assert "Retry skipped" in job_log(job)
    assert fabric.connection_status == "connected"
    assert cluster.requests == []
