"""Reconciliation against the emulated cluster: apply and adopt, dry runs, prune, admission errors."""

import pytest

from netbox_hedgehog.jobs import FabricSyncJob, request_reconcile
from netbox_hedgehog.models import HedgehogResource, StateTransition
from netbox_hedgehog.services.reconcile import plan, reconcile

pytestmark = pytest.mark.django_db

VPC, WIRING = "vpc.githedgehog.com", "wiring.githedgehog.com"


def sync(fabric):
    FabricSyncJob.enqueue(instance=fabric, immediate=True)
    fabric.refresh_from_db()


def row(fabric, kind, name):
    return HedgehogResource.objects.get(fabric=fabric, kind=kind, name=name)


def test_a_dry_run_shows_what_would_change_and_changes_nothing(cluster, fabric, drifted):
    before = [o["metadata"]["resourceVersion"] for o in cluster.objects(WIRING, "v1beta1", "switches")]
    history = StateTransition.objects.filter(fabric=fabric).count()
    report = reconcile(fabric, "apply", dry_run=True, prune=True)
    actions = {(a["kind"], a["name"]): (a["action"], a["outcome"]) for a in report["actions"]}
    assert actions[("Switch", drifted["switch"])] == ("patch", "would succeed")
    assert actions[("VPCPeering", drifted["peering"])] == ("create", "would succeed")
    assert actions[("Server", "stray")] == ("delete", "would succeed")
    assert [
        o["metadata"]["resourceVersion"] for o in cluster.objects(WIRING, "v1beta1", "switches")
    ] == before
    assert cluster.get_object(VPC, "v1beta1", "vpcpeerings", drifted["peering"]) is None
    assert StateTransition.objects.filter(fabric=fabric).count() == history


def test_apply_restores_netbox_state_in_dependency_order_and_ends_in_sync(cluster, fabric, drifted):
    cluster.clear_requests()
    report = reconcile(fabric, "apply", dry_run=False, prune=True)
    fabric.refresh_from_db()
    assert fabric.sync_status == "in_sync", fabric.sync_error
    assert (
        cluster.get_object(WIRING, "v1beta1", "switches", drifted["switch"])["spec"].get("description")
        != "edited by hand"
    )
    assert cluster.get_object(VPC, "v1beta1", "vpcpeerings", drifted["peering"]) is not None
    assert cluster.get_object(WIRING, "v1beta1", "servers", "stray") is None
    writes = [r for r in cluster.requests if r.method in ("POST", "PATCH", "DELETE")]
    kinds = [r.path.split("/")[-1] if r.method == "POST" else r.path.split("/")[-2] for r in writes]
    assert kinds.index("switches") < kinds.index("vpcpeerings") < kinds.index("servers")  # delete last
    assert {a["outcome"] for a in report["actions"]} == {"ok"}
    rows = StateTransition.objects.filter(fabric=fabric, field="sync_status").order_by("-pk")[:2]
    assert [(r.previous, r.new, r.trigger) for r in reversed(rows)] == [
        ("out_of_sync", "syncing", "reconciliation"),
        ("syncing", "in_sync", "reconciliation"),
    ]


def test_apply_without_prune_keeps_extras_and_stays_out_of_sync(cluster, fabric, drifted):
    report = reconcile(fabric, "apply", dry_run=False, prune=False)
    fabric.refresh_from_db()
    assert cluster.get_object(WIRING, "v1beta1", "servers", "stray") is not None
    assert ("keep", "skipped") in {(a["action"], a["outcome"]) for a in report["actions"]}
    assert fabric.sync_status == "out_of_sync" and row(fabric, "Server", "stray").sync_state == "extra"


def test_adopt_takes_the_cluster_state_as_desired(cluster, fabric, drifted):
    reconcile(fabric, "adopt", dry_run=False)
    fabric.refresh_from_db()
    assert fabric.sync_status == "in_sync"
    assert row(fabric, "Switch", drifted["switch"]).desired_spec["description"] == "edited by hand"
    assert row(fabric, "Server", "stray").desired_spec == {}
    assert not HedgehogResource.objects.filter(
        fabric=fabric, kind="VPCPeering", name=drifted["peering"]
    ).exists()
    assert (
        cluster.get_object(VPC, "v1beta1", "vpcpeerings", drifted["peering"]) is None
    )  # the cluster untouched


def test_an_admission_error_is_kept_as_the_server_gave_it_and_ends_in_error(cluster, fabric, drifted):
    cluster.fail_next(
        403, method="PATCH", message='admission webhook "vpc.githedgehog.com" denied the request: nope'
    )
    reconcile(fabric, "apply", dry_run=False, prune=True)
    fabric.refresh_from_db()
    switch = row(fabric, "Switch", drifted["switch"])
    assert switch.sync_state == "error" and "denied the request: nope" in switch.sync_error
    assert fabric.sync_status == "error" and "denied the request" in fabric.sync_error
    assert fabric.connection_status == "connected"  # a refused write is not a lost connection


def test_plan_orders_creates_by_dependency_and_deletes_in_reverse(cluster, fabric, drifted):
    HedgehogResource.objects.filter(fabric=fabric, kind="VPC").update(sync_state="missing")
    HedgehogResource.objects.filter(fabric=fabric, kind="VPCAttachment").update(sync_state="missing")
    HedgehogResource.objects.filter(fabric=fabric, kind="Connection").update(
        sync_state="extra", desired_spec=None
    )
    kinds = [a.kind for a in plan(fabric, "apply", prune=True) if a.action != "delete"]
    assert kinds.index("Switch") < kinds.index("VPC") < kinds.index("VPCAttachment")
    deletes = [a.kind for a in plan(fabric, "apply", prune=True) if a.action == "delete"]
    assert deletes.index("Connection") < deletes.index("Server")


def test_request_reconcile_refuses_when_not_possible_and_runs_once(cluster, fabric, drifted):
    job, created = request_reconcile(fabric, "apply")
    again, created_again = request_reconcile(fabric, "adopt")
    assert created and not created_again and job.pk == again.pk
    fabric.refresh_from_db()
    assert fabric.sync_status == "syncing"
    with pytest.raises(ValueError):
        request_reconcile(fabric, "sideways")


def test_a_resource_the_cluster_refused_is_retried_by_the_next_reconcile_once_the_cause_is_fixed(
    cluster, fabric, drifted
):
    cluster.fail_next(403, method="PATCH", message='admission webhook "wiring" denied the request: not now')
    reconcile(fabric, "apply", dry_run=False, prune=True)
    assert row(fabric, "Switch", drifted["switch"]).sync_state == "error"
    # the webhook no longer refuses: the next reconcile plans the patch again and it goes through
    assert ("Switch", drifted["switch"], "patch") in {
        (a.kind, a.name, a.action) for a in plan(fabric, "apply", True)
    }
    report = reconcile(fabric, "apply", dry_run=False, prune=True)
    assert {(a["kind"], a["outcome"]) for a in report["actions"]} >= {("Switch", "ok")}
    fabric.refresh_from_db()
    switch = row(fabric, "Switch", drifted["switch"])
    assert (switch.sync_state, switch.sync_error) == ("in_sync", "")
    assert fabric.sync_status == "in_sync"


def test_a_sync_compares_a_resource_left_in_error_again(cluster, fabric, drifted):
    cluster.fail_next(403, method="PATCH", message='admission webhook "wiring" denied the request: not now')
    reconcile(fabric, "apply", dry_run=False, prune=True)
    assert row(fabric, "Switch", drifted["switch"]).sync_state == "error"
    sync(fabric)  # nothing changed in the cluster: its resourceVersion is the same
    switch = row(fabric, "Switch", drifted["switch"])
    assert (switch.sync_state, switch.sync_error) == ("drifted", "")
