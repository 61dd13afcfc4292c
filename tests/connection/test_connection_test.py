"""The connection test job against an emulated Kubernetes API over real HTTPS: success, and every
failure class with its stable code, an actionable message and the fabric's bookkeeping."""

import time

import pytest
import yaml
from core.choices import JobStatusChoices
from django.utils import timezone

from hedgehog_kube_emulator import EmulatedCluster
from netbox_hedgehog.credentials import encrypt
from netbox_hedgehog.models import HedgehogFabric
from tests.support.fabrics import (
    CONNECT_TIMEOUT,
    REQUEST_TIMEOUT,
    TOKEN,
    connection_rows,
    job_log,
    make_fabric,
    plugin_settings,
    run_test,
)

pytestmark = pytest.mark.django_db

VERSION = "v1.32.4+k3s1"  # what EmulatedCluster reports by default
# A test that honours its timeouts returns within them, plus this much for everything else.
SLACK = 1.0


@pytest.fixture(scope="module")
def other_cluster():
    """A second cluster with its own CA (a CA that did not sign the first cluster's certificate)."""
    with EmulatedCluster(token=TOKEN) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def plain_cluster():
    """A Kubernetes API server that serves no Hedgehog API group."""
    with EmulatedCluster(token=TOKEN, hedgehog=False) as cluster:
        yield cluster


def assert_failed(fabric, job, code, hint, *, connected=True):
    """The fabric failed with `code`, a message holding `hint`, a planned retry (none for bad
    settings: a retry cannot mend them), and a history row naming the job; the job failed and its
    log says what was tried (`connected`: the settings were good enough to try the server) and what
    went wrong."""
    assert fabric.connection_status == "failed"
    assert fabric.connection_error_code == code
    assert hint in fabric.connection_error
    assert fabric.connection_attempts == 1
    if code == "bad_configuration":
        assert fabric.next_connection_attempt is None
    else:
        assert fabric.next_connection_attempt is not None and fabric.next_connection_attempt > timezone.now()
    assert fabric.cluster_info == {}
    row = connection_rows(fabric)[-1]
    assert (row.previous, row.new, row.trigger, row.job) == ("testing", "failed", "connection_test", job)
    assert row.reason == fabric.connection_error
    assert job.status == JobStatusChoices.STATUS_FAILED
    assert job.data["error"] == {"code": code, "message": fabric.connection_error}
    assert job.error == f"[{code}] {fabric.connection_error}", "NetBox's job list shows the reason"
    log = job_log(job)
    assert ("Connecting to " in log) == connected
    assert f"Failed [{code}]: {fabric.connection_error}" in log
    if code == "bad_configuration":
        assert "Not retried automatically" in log
    else:
        assert "Next attempt at " in log


# --- success ---------------------------------------------------------------------------------------


def test_a_reachable_hedgehog_cluster_connects_and_records_what_was_found(cluster, fabric_for):
    fabric = fabric_for()
    HedgehogFabric.objects.filter(pk=fabric.pk).update(connection_attempts=3)  # earlier failures

    job = run_test(fabric)

    assert job.status == JobStatusChoices.STATUS_COMPLETED
    assert fabric.connection_status == "connected"
    assert fabric.last_validated is not None
    assert (fabric.connection_error, fabric.connection_error_code) == ("", "")
    assert (fabric.connection_attempts, fabric.next_connection_attempt) == (0, None)
    info = fabric.cluster_info
    assert info["server_version"] == VERSION
    assert info["namespace"] == "default"
    assert {"VPC", "VPCAttachment", "IPv4Namespace"} <= set(info["groups"]["vpc.githedgehog.com/v1beta1"])
    assert {"Switch", "Server", "Connection"} <= set(info["groups"]["wiring.githedgehog.com/v1beta1"])
    row = connection_rows(fabric)[-1]
    assert (row.previous, row.new, row.trigger, row.job) == ("testing", "connected", "connection_test", job)
    assert VERSION in row.reason
    assert job.data["connection_status"] == "connected"


def test_the_job_log_says_what_was_tried(cluster, fabric_for):
    job = run_test(fabric_for())
    log = job_log(job)
    assert f"Connecting to {cluster.url} with bearer token, CA given, TLS verified" in log
    assert f"Kubernetes {VERSION}" in log
    assert "vpc.githedgehog.com/v1beta1: 7 kinds" in log
    assert "Listing vpcs in namespace default: allowed" in log
    assert "Listing switches in namespace default: allowed" in log
    assert log.splitlines()[-1] == "Connected"


def test_the_test_asks_for_version_discovery_and_a_list_of_each_hedgehog_group(cluster, fabric_for):
    run_test(fabric_for())
    paths = [r.path for r in cluster.requests]
    assert paths[:2] == ["/version/", "/apis/"]
    assert "/apis/vpc.githedgehog.com/v1beta1/namespaces/default/vpcs" in paths
    assert "/apis/wiring.githedgehog.com/v1beta1/namespaces/default/switches" in paths
    # and not the fabric's Argo CD Application: /apis said this cluster does not serve
    # argoproj.io, so Argo CD is "not installed" without a request (docs/argocd.md)
    assert not [r.path for r in cluster.requests if "argoproj.io" in r.path]
    assert all(r.status == 200 for r in cluster.requests)
    assert len(cluster.requests) == 6


def test_a_kubeconfig_with_a_named_context_connects_through_that_context(cluster):
    config = yaml.safe_load(cluster.kubeconfig(context_name="hedgehog"))
    # The kubeconfig's current context points at nothing; only the named one reaches the cluster.
    config["clusters"].append({"name": "dead", "cluster": {"server": cluster.closed_port_url()}})
    config["users"].append({"name": "dead", "user": {"token": "other"}})
    config["contexts"].append({"name": "dead", "context": {"cluster": "dead", "user": "dead"}})
    config["current-context"] = "dead"
    text = yaml.safe_dump(config)

    fabric = make_fabric(kubeconfig=text, kubeconfig_context="hedgehog")
    job = run_test(fabric)
    assert fabric.connection_status == "connected"
    assert f"Connecting to {cluster.url} with kubeconfig (context hedgehog), CA given" in job_log(job)

    other = make_fabric("dc2", kubeconfig=text)  # the current context
    run_test(other)
    assert other.connection_error_code == "refused"


def test_a_second_test_of_a_connected_fabric_stays_connected_with_a_fresh_validation(cluster, fabric_for):
    fabric = fabric_for()
    run_test(fabric)
    first = fabric.last_validated
    job = run_test(fabric)
    assert fabric.connection_status == "connected"
    assert fabric.last_validated > first
    assert [(r.previous, r.new, r.job) for r in connection_rows(fabric)[-2:]] == [
        ("connected", "testing", job),
        ("testing", "connected", job),
    ]


# --- each failure class ----------------------------------------------------------------------------


def test_a_wrong_token_is_unauthorized(cluster, fabric_for):
    fabric = fabric_for(token="not-the-token")
    job = run_test(fabric)
    assert_failed(fabric, job, "unauthorized", "rejected the credentials (401 Unauthorized)")
    assert "Check the token or the kubeconfig's user" in fabric.connection_error


def test_a_server_rejecting_every_request_is_unauthorized(cluster, fabric_for):
    fabric = fabric_for()
    cluster.set_mode("unauthorized")
    assert_failed(fabric, run_test(fabric), "unauthorized", "Check the token")


def test_forbidden_says_which_rights_to_grant(cluster, fabric_for):
    fabric = fabric_for()
    cluster.set_mode("forbidden")
    job = run_test(fabric)
    assert_failed(fabric, job, "forbidden", "(403 Forbidden)")
    assert "Grant the account get, list and watch on the Hedgehog resources" in fabric.connection_error


def test_forbidden_listing_after_a_successful_discovery_is_forbidden(cluster, fabric_for):
    fabric = fabric_for()
    cluster.fail_next(403, verb="list", message='vpcs.vpc.githedgehog.com is forbidden: User "x" cannot list')
    job = run_test(fabric)
    assert_failed(fabric, job, "forbidden", "cannot list")
    assert f"Kubernetes {VERSION}" in job_log(job)  # it got that far


def test_no_ca_for_a_private_cluster_is_a_tls_failure_that_asks_for_the_ca(cluster, fabric_for):
    fabric = fabric_for(ca="")
    job = run_test(fabric)
    assert_failed(fabric, job, "tls", "certificate verify failed")
    assert "Give the cluster's CA certificate" in fabric.connection_error
    assert "system CAs, TLS verified" in job_log(job)


def test_a_wrong_ca_is_a_tls_failure(cluster, fabric_for, other_cluster):
    fabric = fabric_for(ca=other_cluster.ca_pem)
    assert_failed(fabric, run_test(fabric), "tls", "Give the cluster's CA certificate")


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_without_tls_verification_a_private_cluster_connects_and_the_log_says_so(cluster, fabric_for):
    fabric = fabric_for(ca="", kubernetes_verify_tls=False)
    job = run_test(fabric)
    assert fabric.connection_status == "connected"
    assert "TLS NOT verified" in job_log(job)


def test_a_name_that_does_not_resolve_is_dns(cluster):
    fabric = make_fabric(server="https://api.hedgehog-fabric.invalid:6443", token=TOKEN)
    job = run_test(fabric)
    assert_failed(fabric, job, "dns", "does not resolve")
    assert "api.hedgehog-fabric.invalid" in fabric.connection_error


def test_a_closed_port_is_refused(cluster):
    url = cluster.closed_port_url()
    fabric = make_fabric(server=url, token=TOKEN)
    assert_failed(fabric, run_test(fabric), "refused", "is the API server running and the port right?")
    assert url in fabric.connection_error


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_is_a_server_error(cluster, fabric_for, status):
    fabric = fabric_for()
    cluster.fail_next(status)
    assert_failed(fabric, run_test(fabric), "server_error", f"answered {status}")
    assert "check its health" in fabric.connection_error


def test_a_cluster_without_the_hedgehog_groups_is_not_hedgehog(cluster, plain_cluster, fabric_for):
    fabric = fabric_for(plain_cluster)
    job = run_test(fabric)
    assert_failed(fabric, job, "not_hedgehog", "is the Hedgehog fabric installed there?")
    assert "vpc.githedgehog.com/v1beta1" in fabric.connection_error
    assert "wiring.githedgehog.com/v1beta1" in fabric.connection_error
    assert VERSION in fabric.connection_error


def test_a_fabric_without_connection_settings_is_a_bad_configuration(cluster):
    fabric = make_fabric()
    assert fabric.connection_status == "unknown"  # nothing to test: saving started no test
    assert_failed(fabric, run_test(fabric), "bad_configuration", "No connection settings", connected=False)
    assert "give an API server URL and token, or a kubeconfig" in fabric.connection_error


def test_a_malformed_kubeconfig_stored_directly_is_a_bad_configuration_without_its_content(cluster):
    fabric = make_fabric()
    # Forms and the API refuse this; a script writing the column directly does not.
    text = f"apiVersion: v1\nusers:\n- name: u\n  user: {{token: {TOKEN}\n"
    HedgehogFabric.objects.filter(pk=fabric.pk).update(kubeconfig=encrypt(text))
    job = run_test(fabric)
    assert_failed(fabric, job, "bad_configuration", "The kubeconfig cannot be used", connected=False)
    assert TOKEN not in fabric.connection_error
    assert TOKEN not in job_log(job)


@pytest.mark.parametrize(
    "text",
    [TOKEN, f"clusters: []\nusers: [{{name: u, user: {{token: {TOKEN}}}}}]\n", "- a\n- list\n"],
    ids=["a pasted token", "no context", "a list"],
)
def test_a_kubeconfig_of_the_wrong_shape_is_a_bad_configuration_without_its_content(cluster, text):
    fabric = make_fabric()
    HedgehogFabric.objects.filter(pk=fabric.pk).update(kubeconfig=encrypt(text))
    job = run_test(fabric)
    assert fabric.connection_error_code == "bad_configuration"
    assert TOKEN not in fabric.connection_error and TOKEN not in job_log(job)


def test_an_http_url_without_the_opt_in_is_a_bad_configuration_and_nothing_is_sent(cluster):
    http = EmulatedCluster(tls=False, token=TOKEN)
    with http:
        fabric = make_fabric()
        HedgehogFabric.objects.filter(pk=fabric.pk).update(kubernetes_server=http.url)
        fabric.set_secret("kubernetes_token", TOKEN)
        HedgehogFabric.objects.filter(pk=fabric.pk).update(kubernetes_token=fabric.kubernetes_token)
        job = run_test(fabric)
        assert_failed(
            fabric, job, "bad_configuration", "allow plain HTTP explicitly, or use https", connected=False
        )
        assert http.requests == []  # the token never travelled

        HedgehogFabric.objects.filter(pk=fabric.pk).update(kubernetes_allow_http=True)
        job = run_test(fabric)
        assert fabric.connection_status == "connected"
        assert "(plain HTTP)" in job_log(job)


def test_malformed_json_is_a_bad_response(cluster, fabric_for):
    fabric = fabric_for()
    cluster.malformed_json_next()
    assert_failed(fabric, run_test(fabric), "bad_response", "not JSON: is it a Kubernetes API server?")


def test_a_dropped_connection_is_connection_lost(cluster, fabric_for):
    fabric = fabric_for()
    cluster.disconnect_next()
    assert_failed(fabric, run_test(fabric), "connection_lost", "was dropped")


# --- timeouts, and no silent retries by the client -------------------------------------------------


def test_a_server_that_accepts_and_never_answers_times_out_within_the_configured_timeouts(cluster):
    with cluster.black_hole() as hole:
        fabric = make_fabric(server=hole.url(), token=TOKEN)
        started = time.monotonic()
        job = run_test(fabric)
        elapsed = time.monotonic() - started
    assert_failed(fabric, job, "timeout", "did not answer in time")
    assert (
        f"connect timeout {CONNECT_TIMEOUT:g} s, request timeout {REQUEST_TIMEOUT:g} s"
        in fabric.connection_error
    )
    # One attempt: urllib3's default three retries would take four connect timeouts.
    assert elapsed < CONNECT_TIMEOUT + REQUEST_TIMEOUT + SLACK


def test_a_hanging_request_times_out_after_the_configured_request_timeout(cluster, fabric_for):
    fabric = fabric_for()
    cluster.set_latency(float("inf"), path="^/version")
    with plugin_settings(request_timeout=0.5):
        started = time.monotonic()
        job = run_test(fabric)
        elapsed = time.monotonic() - started
    assert_failed(fabric, job, "timeout", "request timeout 0.5 s")
    assert elapsed < 0.5 + SLACK


def test_a_single_5xx_fails_the_test_at_once_after_exactly_one_request(cluster, fabric_for):
    fabric = fabric_for()
    cluster.fail_next(500)
    run_test(fabric)
    assert fabric.connection_error_code == "server_error"
    assert [(r.path, r.status) for r in cluster.requests] == [("/version/", 500)]


def test_a_dropped_connection_is_not_retried_silently_by_the_client(cluster, fabric_for):
    # urllib3's default Retry would resend the GET on a new connection and succeed.
    fabric = fabric_for()
    cluster.disconnect_next()
    run_test(fabric)
    assert fabric.connection_error_code == "connection_lost"
    assert [r.path for r in cluster.requests] == ["/version/"]
