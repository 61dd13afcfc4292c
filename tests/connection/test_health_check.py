"""The periodic health check round: connected fabrics are tested again, failed ones retried when due,
fabrics in maintenance or decommissioned left alone; every transition names the round's job."""

import time
from datetime import timedelta

import pytest
from core.choices import JobStatusChoices
from django.utils import timezone

from netbox_hedgehog.jobs import FabricHealthCheckJob
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.services import connection
from netbox_hedgehog.services.state import transition
from tests.support.fabrics import (
    CONNECT_TIMEOUT,
    REQUEST_TIMEOUT,
    TOKEN,
    connection_rows,
    edit,
    job_log,
    make_fabric,
    run_test,
)

pytestmark = pytest.mark.django_db


def health_round():
    job = FabricHealthCheckJob.enqueue(immediate=True)
    job.refresh_from_db()
    return job


@pytest.fixture
def connected(cluster, fabric_for):
    fabric = fabric_for()
    run_test(fabric)
    assert fabric.connection_status == "connected"
    return fabric


def test_a_connected_fabric_goes_testing_then_connected_with_the_round_job(cluster, connected):
    validated = connected.last_validated
    job = health_round()
    connected.refresh_from_db()
    assert job.status == JobStatusChoices.STATUS_COMPLETED
    assert (job.data["connected"], job.data["failed"]) == (1, 0)
    assert connected.connection_status == "connected"
    assert connected.last_validated > validated
    assert [(r.previous, r.new, r.trigger, r.job) for r in connection_rows(connected)[-2:]] == [
        ("connected", "testing", "health_check", job),
        ("testing", "connected", "health_check", job),
    ]
    assert f"{connected}: connected" in job_log(job)


def test_a_connected_fabric_whose_cluster_fails_goes_failed_with_the_round_job(cluster, connected):
    cluster.set_mode("unauthorized")
    job = health_round()
    connected.refresh_from_db()
    assert (job.data["connected"], job.data["failed"]) == (0, 1)
    assert (connected.connection_status, connected.connection_error_code) == ("failed", "unauthorized")
    assert connected.connection_attempts == 1 and connected.next_connection_attempt is not None
    row = connection_rows(connected)[-1]
    assert (row.previous, row.new, row.trigger, row.job) == ("testing", "failed", "health_check", job)
    assert f"{connected}: failed [unauthorized]" in job_log(job)


@pytest.mark.parametrize("status", ["maintenance", "decommissioned"])
def test_fabrics_in_maintenance_or_decommissioned_are_skipped(cluster, connected, status):
    transition(connected, "status", "active")
    transition(connected, "status", status)
    rows = len(connection_rows(connected))
    cluster.clear_requests()
    job = health_round()
    assert "No fabric to check" in job_log(job)
    assert len(connection_rows(connected)) == rows
    assert cluster.requests == []


def test_a_failed_fabric_is_retried_only_when_its_next_attempt_is_due(cluster):
    fabric = make_fabric(server=cluster.closed_port_url(), token=TOKEN)
    run_test(fabric)
    assert fabric.next_connection_attempt > timezone.now()
    rows = len(connection_rows(fabric))

    health_round()  # not due yet
    fabric.refresh_from_db()
    assert (len(connection_rows(fabric)), fabric.connection_attempts) == (rows, 1)

    HedgehogFabric.objects.filter(pk=fabric.pk).update(
        next_connection_attempt=timezone.now() - timedelta(seconds=1)
    )
    job = health_round()
    fabric.refresh_from_db()
    assert fabric.connection_attempts == 2
    assert fabric.next_connection_attempt > timezone.now()
    assert [(r.new, r.trigger, r.job) for r in connection_rows(fabric)[-2:]] == [
        ("testing", "retry", job),
        ("failed", "retry", job),
    ]


def test_a_due_retry_that_succeeds_connects_and_resets_the_attempts(cluster, fabric_for):
    fabric = fabric_for(token="wrong")
    run_test(fabric)
    fabric.set_secret("kubernetes_token", TOKEN)
    edit(fabric)  # a settings change tests at once; here the queued test never runs
    HedgehogFabric.objects.filter(pk=fabric.pk).update(
        connection_status="failed", next_connection_attempt=timezone.now()
    )
    health_round()
    fabric.refresh_from_db()
    assert fabric.connection_status == "connected"
    assert (fabric.connection_attempts, fabric.next_connection_attempt) == (0, None)


def test_fabrics_never_tested_or_testing_are_left_to_their_own_tests(cluster, fabric_for):
    untested = make_fabric("untested")
    testing = fabric_for(name="testing")  # saved with settings: testing, its job queued
    assert (untested.connection_status, testing.connection_status) == ("unknown", "testing")
    health_round()
    untested.refresh_from_db()
    testing.refresh_from_db()
    assert (untested.connection_status, testing.connection_status) == ("unknown", "testing")


def test_a_round_tests_hanging_fabrics_concurrently_in_about_one_timeout(cluster, connected):
    fabrics = [connected]
    with cluster.black_hole() as hole:
        for i in range(6):
            fabric = make_fabric(f"hanging-{i}", server=hole.url(), token=TOKEN)
            HedgehogFabric.objects.filter(pk=fabric.pk).update(
                connection_status="connected", last_validated=timezone.now()
            )
            fabrics.append(fabric)
        started = time.monotonic()
        summary = connection.health_check_round()
        elapsed = time.monotonic() - started
    assert summary == {"connected": 1, "failed": 6}
    # Six fabrics one after the other would take six connect timeouts.
    assert elapsed < CONNECT_TIMEOUT + REQUEST_TIMEOUT + 1.0
    codes = set(
        HedgehogFabric.objects.filter(name__startswith="hanging-").values_list(
            "connection_error_code", flat=True
        )
    )
    assert codes == {"timeout"}


HEDGEHOG_LISTS = [
    "/apis/vpc.githedgehog.com/v1beta1/namespaces/default/vpcs",
    "/apis/wiring.githedgehog.com/v1beta1/namespaces/default/switches",
]


def test_a_health_check_keeps_the_kinds_its_last_test_found_and_asks_four_requests(cluster, connected):
    groups = connected.cluster_info["groups"]
    cluster.clear_requests()
    health_round()
    connected.refresh_from_db()
    # the version, the served groups and one list per Hedgehog group, with the fabric's token; not
    # the groups' resource lists (the kinds are kept) nor Argo CD (not served, says /apis)
    assert [r.path.rstrip("/") for r in cluster.requests] == ["/version", "/apis", *HEDGEHOG_LISTS]
    assert all(r.status == 200 for r in cluster.requests)
    assert connected.connection_status == "connected"
    assert connected.cluster_info["groups"] == groups


def test_a_health_check_asks_for_the_kinds_again_of_a_group_its_last_test_did_not_see(cluster, connected):
    info = dict(connected.cluster_info)
    # as if the last test had seen the wiring group at another version (an upgrade since)
    wiring = info["groups"].pop("wiring.githedgehog.com/v1beta1")
    info["groups"] = {**info["groups"], "wiring.githedgehog.com/v1alpha2": wiring}
    HedgehogFabric.objects.filter(pk=connected.pk).update(cluster_info=info)
    connected.refresh_from_db()
    cluster.clear_requests()
    health_round()
    connected.refresh_from_db()
    paths = [r.path.rstrip("/") for r in cluster.requests]
    assert "/apis/wiring.githedgehog.com/v1beta1" in paths
    assert "/apis/vpc.githedgehog.com/v1beta1" not in paths
    assert set(connected.cluster_info["groups"]["wiring.githedgehog.com/v1beta1"]) == set(wiring)
    assert "wiring.githedgehog.com/v1alpha2" not in connected.cluster_info["groups"]


def test_a_manual_test_and_a_retry_ask_for_every_kind_again(cluster, connected):
    cluster.clear_requests()
    run_test(connected)
    paths = [r.path.rstrip("/") for r in cluster.requests]
    assert {"/apis/vpc.githedgehog.com/v1beta1", "/apis/wiring.githedgehog.com/v1beta1"} <= set(paths)
    cluster.set_mode("unauthorized")
    health_round()
    cluster.set_mode("ok")
    HedgehogFabric.objects.filter(pk=connected.pk).update(next_connection_attempt=timezone.now())
    cluster.clear_requests()
    health_round()
    connected.refresh_from_db()
    assert connected.connection_status == "connected"
    assert connection_rows(connected)[-1].trigger == "retry"
    paths = [r.path.rstrip("/") for r in cluster.requests]
    assert {"/apis/vpc.githedgehog.com/v1beta1", "/apis/wiring.githedgehog.com/v1beta1"} <= set(paths)
