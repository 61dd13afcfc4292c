"""Argo CD activates a planned fabric by itself (trigger "argocd", the revision in the reason) only
when its Application is Synced and Healthy, its last operation Succeeded, and every switch applied
its current configuration; each missing condition keeps it planned and is said; nothing moves back."""

import pytest

from netbox_hedgehog.models import StateTransition
from netbox_hedgehog.services import argocd
from netbox_hedgehog.state import argocd as argo
from tests.argocd.conftest import REVISION, planned_fabric
from tests.support.fabrics import sync

pytestmark = pytest.mark.django_db


def argocd_rows(fabric):
    return list(StateTransition.objects.filter(fabric=fabric, field="status", trigger="argocd"))


def test_a_planned_fabric_becomes_active_when_every_condition_holds(argocd_cluster):
    fabric = planned_fabric(argocd_cluster)
    # connected, the Application read, but no switch synced yet: it waits
    assert fabric.argocd.presence == argo.FOUND
    assert [code for code, _ in fabric.activation_missing] == [argo.NO_SWITCHES]
    sync(fabric)  # the Agents are read: 6 of 6 applied
    assert fabric.status == "active"
    (row,) = argocd_rows(fabric)
    assert (row.previous, row.new, row.user) == ("planned", "active", None)
    assert REVISION[:12] in row.reason
    assert "argocd/dc1 Synced and Healthy" in row.reason and "6/6 switches" in row.reason
    assert fabric.switch_readiness["applied"] == fabric.switch_readiness["total"] == 6


def test_the_application_syncing_keeps_it_planned_until_synced_and_healthy(argocd_cluster):
    argocd_cluster.set_application(
        "dc1", sync="OutOfSync", health="Progressing", phase="Running", revision=REVISION
    )
    fabric = sync(planned_fabric(argocd_cluster))
    assert fabric.status == "planned"
    assert [code for code, _ in fabric.activation_missing] == [
        argo.NOT_SYNCED,
        argo.NOT_HEALTHY,
        argo.OPERATION_NOT_SUCCEEDED,
    ]
    argocd_cluster.set_application("dc1", revision=REVISION)  # Argo CD finished
    fabric = sync(fabric)
    assert fabric.status == "active"
    assert len(argocd_rows(fabric)) == 1


# One test per missing condition: everything else holds, that one does not.
MISSING = {
    "the Application does not exist": (lambda c: c.delete_object(
        "argoproj.io", "v1alpha1", "applications", "dc1", namespace="argocd"), argo.NO_APPLICATION, "does not exist"),
    "the Application is OutOfSync": (lambda c: c.set_application("dc1", sync="OutOfSync"), argo.NOT_SYNCED, "OutOfSync, not Synced"),
    "the Application is Degraded": (
        lambda c: c.set_application("dc1", health="Degraded", health_message="leaf-03: not ready"),
        argo.NOT_HEALTHY,
        "Degraded, not Healthy: leaf-03: not ready",
    ),
    "the last operation Failed": (
        lambda c: c.set_application("dc1", phase="Failed", message="one or more objects failed to apply"),
        argo.OPERATION_NOT_SUCCEEDED,
        "Failed, not Succeeded: one or more objects failed to apply",
    ),
    "no operation ever ran": (lambda c: c.set_application("dc1", phase=None), argo.OPERATION_NOT_SUCCEEDED, "No sync operation has run yet"),
    "a switch has not applied its generation": (
        lambda c: c.agent_new_generation("leaf-03"),
        argo.SWITCHES_PENDING,
        "1 of 6 switches have not applied their current configuration: leaf-03.",
    ),
    "no switch has reported": (
        lambda c: [c.delete_object(*("agent.githedgehog.com", "v1beta1", "agents"), a["metadata"]["name"])
                   for a in c.objects("agent.githedgehog.com", "v1beta1", "agents")],
        argo.NO_SWITCHES,
        "No switch has reported",
    ),
}  # fmt: skip


@pytest.mark.parametrize("change", MISSING, ids=list(MISSING))
def test_one_missing_condition_keeps_the_fabric_planned_and_is_said(argocd_cluster, change):
    make_it_so, code, said = MISSING[change]
    make_it_so(argocd_cluster)
    fabric = sync(planned_fabric(argocd_cluster))
    assert fabric.status == "planned"
    assert [c for c, _ in fabric.activation_missing] == [code]
    assert said in fabric.activation_missing[0][1]
    assert argocd_rows(fabric) == []


def test_a_connection_test_reads_a_missing_application_with_one_request(argocd_cluster):
    argocd_cluster.delete_object("argoproj.io", "v1alpha1", "applications", "dc1", namespace="argocd")
    argocd_cluster.clear_requests()
    fabric = planned_fabric(argocd_cluster)
    # /apis said argoproj.io/v1alpha1 is served: the 404 means the Application does not exist
    argo_requests = [(r.path, r.status) for r in argocd_cluster.requests if "argoproj.io" in r.path]
    assert argo_requests == [("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/dc1", 404)]
    assert fabric.argocd.presence == argo.MISSING


def test_argo_cd_not_installed_is_a_clear_state_not_an_error(cluster, db):
    """The session's cluster serves no argoproj.io: the connection test and the sync succeed, the
    Application is "not installed", the fabric stays planned, no alert opens."""
    fabric = sync(planned_fabric(cluster))
    assert (fabric.connection_status, fabric.sync_status, fabric.status) == (
        "connected",
        "in_sync",
        "planned",
    )
    assert fabric.argocd.presence == argo.NOT_INSTALLED
    assert fabric.argocd.error == ""
    (code, message), *_ = fabric.activation_missing
    assert code == argo.NO_APPLICATION and "Argo CD is not installed" in message
    # no alert about it (the demo's switches, whose heartbeats are months old, are stale: that is theirs)
    assert set(fabric.alerts.values_list("type", flat=True)) <= {"switch_stale"}


def test_an_active_fabric_is_never_moved_back(argocd_cluster):
    fabric = sync(planned_fabric(argocd_cluster))
    assert fabric.status == "active"
    argocd_cluster.set_application("dc1", sync="OutOfSync", health="Degraded", phase="Failed")
    argocd_cluster.agent_new_generation("leaf-01")
    fabric = sync(fabric)
    assert fabric.status == "active"
    assert fabric.argocd.health_status == "Degraded"  # shown, nothing more
    assert StateTransition.objects.filter(fabric=fabric, field="status").count() == 2  # created, argocd


@pytest.mark.parametrize("status", ["maintenance", "decommissioned"])
def test_only_a_planned_fabric_is_activated(argocd_cluster, status):
    from netbox_hedgehog.services.state import transition

    fabric = planned_fabric(argocd_cluster, auto_reconcile="off")
    transition(fabric, "status", "active", reason="by hand")
    transition(fabric, "status", status, reason="by hand")
    verdict = argocd.review(fabric)
    assert not verdict.activate
    fabric.refresh_from_db()
    assert fabric.status == status


def test_the_connection_test_reads_the_application(argocd_cluster, db):
    fabric = planned_fabric(argocd_cluster)
    app = fabric.argocd
    assert (app.presence, app.sync_status, app.health_status, app.phase) == (
        "found",
        "Synced",
        "Healthy",
        "Succeeded",
    )
    assert app.revision == REVISION
    assert app.message == "successfully synced (all tasks run)"
    assert (app.namespace, app.name) == ("argocd", "dc1")


def test_the_application_named_on_the_fabric_is_read(argocd_cluster, db):
    argocd_cluster.set_application("fabric-east", namespace="gitops", phase="Running")
    fabric = planned_fabric(argocd_cluster, argocd_namespace="gitops", argocd_application="fabric-east")
    assert (fabric.argocd.namespace, fabric.argocd.name, fabric.argocd.phase) == (
        "gitops",
        "fabric-east",
        "Running",
    )
