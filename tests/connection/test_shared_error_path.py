"""connection.report_kubernetes_error: the one path by which a Kubernetes error met during other work
(a sync, a watch) reaches the fabric's connection state, with the connection test's classification."""

import pytest
from kubernetes import client as k8s

from netbox_hedgehog.kube.client import connect
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.services import connection
from tests.support.fabrics import TOKEN, connection_rows, make_fabric, run_test

pytestmark = pytest.mark.django_db


def error_from(fabric, call):
    """The exception the official client raises for `call(access)` made with the fabric's client."""
    with connect(fabric) as access:
        try:
            call(access)
        except Exception as exc:  # noqa: BLE001 - the very exception other work would meet
            return exc
    raise AssertionError("the call did not fail")


def list_vpcs(access):
    k8s.CustomObjectsApi(access.api).list_namespaced_custom_object(
        "vpc.githedgehog.com", "v1beta1", "default", "vpcs", _request_timeout=access.timeout
    )


def get_missing_vpc(access):
    k8s.CustomObjectsApi(access.api).get_namespaced_custom_object(
        "vpc.githedgehog.com", "v1beta1", "default", "vpcs", "no-such-vpc", _request_timeout=access.timeout
    )


@pytest.fixture
def connected(cluster, fabric_for):
    fabric = fabric_for()
    run_test(fabric)
    assert fabric.connection_status == "connected"
    return fabric


def test_a_401_during_other_work_fails_a_connected_fabric(cluster, connected):
    cluster.set_mode("unauthorized")
    exc = error_from(connected, list_vpcs)
    failure = connection.report_kubernetes_error(connected, exc)
    assert failure.code == "unauthorized"
    connected.refresh_from_db()
    assert (connected.connection_status, connected.connection_error_code) == ("failed", "unauthorized")
    assert "Check the token" in connected.connection_error
    assert connected.connection_attempts == 1 and connected.next_connection_attempt is not None
    row = connection_rows(connected)[-1]
    assert (row.previous, row.new, row.trigger) == ("connected", "failed", "kubernetes_error")


def test_a_refused_connection_during_other_work_fails_a_connected_fabric(cluster, connected):
    HedgehogFabric.objects.filter(pk=connected.pk).update(kubernetes_server=cluster.closed_port_url())
    connected.refresh_from_db()
    exc = error_from(connected, list_vpcs)
    assert connection.report_kubernetes_error(connected, exc).code == "refused"
    connected.refresh_from_db()
    assert (connected.connection_status, connected.connection_error_code) == ("failed", "refused")


def test_the_failing_work_can_name_its_job_and_trigger(cluster, connected):
    from netbox_hedgehog.jobs import ConnectionTestJob

    job = ConnectionTestJob.get_jobs(connected).first()
    cluster.set_mode("forbidden")
    connection.report_kubernetes_error(connected, error_from(connected, list_vpcs), job=job, trigger="sync")
    row = connection_rows(connected)[-1]
    assert (row.new, row.trigger, row.job) == ("failed", "sync", job)


def test_a_404_is_an_http_error_of_that_work_and_leaves_the_connection_alone(cluster, connected):
    rows = len(connection_rows(connected))
    failure = connection.report_kubernetes_error(connected, error_from(connected, get_missing_vpc))
    assert failure.code == "http_error"
    assert "404" in failure.message
    connected.refresh_from_db()
    assert connected.connection_status == "connected"
    assert len(connection_rows(connected)) == rows


def test_a_malformed_answer_leaves_the_connection_alone(cluster, connected):
    cluster.malformed_json_next()
    failure = connection.report_kubernetes_error(connected, error_from(connected, list_vpcs))
    assert failure.code == "bad_response"
    connected.refresh_from_db()
    assert connected.connection_status == "connected"


def test_an_error_on_a_fabric_already_failed_adds_nothing(cluster):
    fabric = make_fabric(server=cluster.closed_port_url(), token=TOKEN)
    run_test(fabric)
    rows = len(connection_rows(fabric))
    exc = error_from(fabric, list_vpcs)
    assert connection.report_kubernetes_error(fabric, exc).code == "refused"
    fabric.refresh_from_db()
    assert (fabric.connection_attempts, len(connection_rows(fabric))) == (1, rows)


def test_the_classification_is_the_connection_tests(cluster, connected):
    """The same exception gives the same code and message whether a test or other work met it."""
    cluster.set_mode("unauthorized")
    from_work = connection.report_kubernetes_error(connected, error_from(connected, list_vpcs))
    other = make_fabric("dc2", server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    run_test(other)
    assert (other.connection_error_code, other.connection_error) == (from_work.code, from_work.message)
