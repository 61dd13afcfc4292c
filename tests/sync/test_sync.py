"""Sync against the emulated cluster: import, drift both ways, ignore rules, pagination, errors."""

import pytest
from django.db.models import Count

from netbox_hedgehog.jobs import ConnectionTestJob, FabricSyncJob, request_sync
from netbox_hedgehog.models import HedgehogResource, StateTransition
from netbox_hedgehog.services.rollup import recount
from netbox_hedgehog.services.state import InvalidTransition, transition
from netbox_hedgehog.services.sync import run_sync
from netbox_hedgehog.state import resources as engine
from tests.support.settings import plugin_settings

pytestmark = pytest.mark.django_db

VPC, WIRING = "vpc.githedgehog.com", "wiring.githedgehog.com"


def sync(fabric):
    job = FabricSyncJob.enqueue(instance=fabric, immediate=True)
    job.refresh_from_db()
    fabric.refresh_from_db()
    return job


def states(fabric):
    return dict(
        HedgehogResource.objects.filter(fabric=fabric).values_list("sync_state").annotate(n=Count("pk"))
    )


def resource(fabric, kind, name):
    return HedgehogResource.objects.get(fabric=fabric, kind=kind, name=name)


def test_the_first_sync_imports_the_cluster_as_desired_and_ends_in_sync(cluster, fabric):
    job = sync(fabric)
    assert job.status == "completed", job.data
    assert fabric.sync_status == "in_sync" and fabric.last_sync
    in_cluster = sum(len(cluster.objects(g, "v1beta1", p)) for g, p in [(VPC, "vpcs"), (WIRING, "switches")])
    assert HedgehogResource.objects.filter(fabric=fabric, kind__in=["VPC", "Switch"]).count() == in_cluster
    assert set(states(fabric)) == {"in_sync"}
    vpc = HedgehogResource.objects.filter(fabric=fabric, kind="VPC").first()
    assert vpc.desired_spec == vpc.actual_spec and vpc.uid and vpc.resource_version
    # the webhook's labels are observed but not adopted as desired
    assert not any(k.startswith("fabric.githedgehog.com/") for k in vpc.desired_labels)
    rows = StateTransition.objects.filter(fabric=fabric, field="sync_status").order_by("pk")
    assert [(r.previous, r.new, r.job_id) for r in rows][-2:] == [
        ("never_synced", "syncing", job.pk),
        ("syncing", "in_sync", job.pk),
    ]
    assert fabric.sync_summary["in_sync"] == HedgehogResource.objects.filter(fabric=fabric).count()


def test_agents_are_read_only_with_applied_generation_heartbeat_and_reboot(cluster, fabric):
    sync(fabric)
    agents = HedgehogResource.objects.filter(fabric=fabric, kind="Agent")
    assert agents.count() == len(cluster.objects("agent.githedgehog.com", "v1beta1", "agents"))
    for agent in agents:
        assert agent.read_only and agent.desired_spec is None and agent.sync_state == "in_sync"
        assert agent.applied == (agent.actual_status["lastAppliedGen"] == agent.generation)
        assert agent.heartbeat and agent.reboot_required is not None
    assert any(a.applied is False for a in agents)  # the demo has one switch still applying


def test_a_resync_with_nothing_changed_writes_no_rows_and_reports_no_drift(cluster, fabric):
    sync(fabric)
    job = sync(fabric)
    assert job.data["written"] == {
        "created": 0,
        "updated": 0,
        "deleted": 0,
        "unchanged": job.data["written"]["unchanged"],
    }
    assert fabric.sync_status == "in_sync"
    assert set(states(fabric)) == {"in_sync"}


def test_an_edit_in_the_cluster_is_drift_with_a_field_level_difference(cluster, fabric):
    sync(fabric)
    name = cluster.objects(WIRING, "v1beta1", "switches")[0]["metadata"]["name"]
    cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": "changed by hand"}})
    sync(fabric)
    switch = resource(fabric, "Switch", name)
    assert switch.sync_state == "drifted"
    assert {
        "path": "/spec/description",
        "desired": switch.desired_spec.get("description"),
        "actual": "changed by hand",
    } in switch.diff
    assert fabric.sync_status == "out_of_sync"
    last = StateTransition.objects.filter(fabric=fabric).latest("pk")
    assert (last.previous, last.new, last.trigger) == ("in_sync", "out_of_sync", "drift")
    assert "1 drifted" in last.reason


def test_an_edit_in_netbox_is_drift_until_applied(cluster, fabric):
    sync(fabric)
    vpc = HedgehogResource.objects.filter(fabric=fabric, kind="VPC").first()
    vpc.desired_spec = {**vpc.desired_spec, "mode": "l3vni"}
    vpc.save()
    assert resource(fabric, "VPC", vpc.name).sync_state == "drifted"
    fabric.refresh_from_db()
    assert fabric.sync_status == "out_of_sync"


def test_webhook_defaults_and_system_labels_are_not_drift(cluster, fabric):
    sync(fabric)
    vpc = HedgehogResource.objects.filter(fabric=fabric, kind="VPC").first()
    # NetBox wants a minimal spec: only the subnets' CIDRs; the cluster has defaults filled in
    minimal = {"subnets": {k: {"subnet": v["subnet"]} for k, v in vpc.actual_spec["subnets"].items()}}
    HedgehogResource.objects.filter(pk=vpc.pk).update(desired_spec=minimal, resource_version="")
    sync(fabric)
    assert resource(fabric, "VPC", vpc.name).sync_state == "in_sync"
    assert fabric.sync_status == "in_sync"


def test_declared_ignore_rules_drop_paths_from_the_comparison(cluster, fabric):
    sync(fabric)
    name = cluster.objects(WIRING, "v1beta1", "switches")[0]["metadata"]["name"]
    cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": "ignored"}})
    with plugin_settings(drift_ignore={"Switch": ["/spec/description"]}):
        sync(fabric)
    assert resource(fabric, "Switch", name).sync_state == "in_sync"


def test_an_object_deleted_in_the_cluster_is_missing_not_in_sync(cluster, fabric):
    sync(fabric)
    name = cluster.objects(VPC, "v1beta1", "vpcpeerings")[0]["metadata"]["name"]
    cluster.delete_object(VPC, "v1beta1", "vpcpeerings", name)
    sync(fabric)
    assert resource(fabric, "VPCPeering", name).sync_state == "missing"
    assert fabric.sync_status == "out_of_sync"


def test_an_object_only_in_the_cluster_is_extra(cluster, fabric):
    sync(fabric)
    cluster.put_object(
        {
            "apiVersion": f"{WIRING}/v1beta1",
            "kind": "Server",
            "metadata": {"name": "surprise", "namespace": "default"},
            "spec": {"description": "added by hand"},
        }
    )
    sync(fabric)
    extra = resource(fabric, "Server", "surprise")
    assert extra.sync_state == "extra" and extra.desired_spec is None
    assert fabric.sync_status == "out_of_sync"


def test_pagination_reads_every_object_across_page_boundaries(cluster, fabric):
    for i in range(23):
        cluster.put_object(
            {
                "apiVersion": f"{WIRING}/v1beta1",
                "kind": "Server",
                "metadata": {"name": f"srv-{i:02d}", "namespace": "default"},
                "spec": {"description": f"server {i}"},
            }
        )
    cluster.clear_requests()
    with plugin_settings(sync_page_size=5):
        sync(fabric)
    in_cluster = {o["metadata"]["name"] for o in cluster.objects(WIRING, "v1beta1", "servers")}
    stored = set(HedgehogResource.objects.filter(fabric=fabric, kind="Server").values_list("name", flat=True))
    assert stored == in_cluster and len(in_cluster) > 23
    server_lists = [r for r in cluster.requests if r.verb == "list" and r.path.endswith("/servers")]
    assert len(server_lists) == -(-len(in_cluster) // 5)
    assert all(r.params.get("limit") == "5" for r in server_lists)


def test_a_kubernetes_error_mid_sync_ends_in_error_and_writes_nothing(cluster, fabric):
    cluster.fail_next(500, verb="list", path="/apis/vpc.githedgehog.com/v1beta1/namespaces/default/vpcs")
    job = sync(fabric)
    assert job.status == "failed"
    assert fabric.sync_status == "error" and "server_error" in fabric.sync_error
    assert job.error.startswith("[server_error] The API server"), "NetBox's job list shows the reason"
    assert (
        HedgehogResource.objects.filter(fabric=fabric).count() == 0
    )  # the switches read before were rolled back


def test_an_unreachable_cluster_fails_the_connection_through_the_shared_path(cluster, fabric):
    sync(fabric)
    cluster.set_mode("unauthorized")
    job = sync(fabric)
    assert job.status == "failed"
    assert (fabric.connection_status, fabric.connection_error_code) == ("failed", "unauthorized")
    assert fabric.sync_status == "error"
    cluster.set_mode("ok")


@pytest.mark.parametrize("setup,code", [("disconnect", "not_connected"), ("maintenance", "in_maintenance")])
def test_a_sync_is_refused_with_the_reason_when_not_possible(cluster, fabric, setup, code):
    if setup == "disconnect":
        transition(fabric, "connection_status", "testing")
        transition(fabric, "connection_status", "failed", reason="Connection refused")
        transition(fabric, "connection_status", "testing")  # its retry: the last outcome failed
    else:
        transition(fabric, "status", "maintenance")
    with pytest.raises(InvalidTransition) as refused:
        request_sync(fabric)
    assert refused.value.code == code


def test_a_sync_asked_for_while_a_health_round_retests_the_fabric_runs(cluster, fabric):
    """A health round holds every connected fabric in testing while it checks it (seconds, with
    silent clusters in the batch): a sync asked for, or due, meanwhile is not refused."""
    transition(fabric, "connection_status", "testing", trigger="health_check")
    job, created = request_sync(fabric)
    assert created and fabric.sync_status == "syncing"
    ran = sync(fabric)
    assert ran.status == "completed", ran.data
    assert (fabric.connection_status, fabric.sync_status) == ("testing", "in_sync")
    transition(fabric, "connection_status", "connected", trigger="health_check")  # the round's result


def test_two_requests_start_one_sync(cluster, fabric):
    first, created = request_sync(fabric)
    second, created_again = request_sync(fabric)
    assert created and not created_again and first.pk == second.pk
    assert FabricSyncJob.get_jobs(fabric).count() == 1


def test_record_drift_rolls_resources_up_into_the_fabric(cluster, fabric):
    sync(fabric)
    HedgehogResource.objects.filter(fabric=fabric, kind="VPC").update(sync_state="drifted")
    counts = recount(fabric)
    fabric.refresh_from_db()
    assert counts["drifted"] >= 1 and fabric.sync_status == "out_of_sync"


def test_aggregate_rule():
    assert engine.aggregate({"in_sync": 3, "drifted": 0, "missing": 0, "extra": 0, "error": 0}) == "in_sync"
    for state in ("drifted", "missing", "extra", "error"):
        assert engine.aggregate({"in_sync": 3, state: 1}) == "out_of_sync"


def test_run_sync_skips_when_another_sync_holds_the_lock(cluster, fabric):
    from django.db import connections

    from netbox_hedgehog.services import sync as operations

    request_sync(fabric)
    with operations.exclusive(fabric) as held:
        assert held
        # a second session stands for another worker: the lock is per database session
        other = connections.create_connection("default")
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [operations.LOCK_NAMESPACE, fabric.pk])
            assert cursor.fetchone()[0] is False
        other.close()
    assert run_sync(fabric)["resources"]


def test_a_connection_failure_met_by_a_sync_schedules_the_retry_at_once(cluster, fabric):
    """Not at the next health round: the retry test is scheduled for the fabric's next attempt."""
    cluster.set_mode("unauthorized")
    sync(fabric)
    assert fabric.connection_status == "failed" and fabric.next_connection_attempt is not None
    retry = ConnectionTestJob.get_jobs(fabric).get(status="scheduled")
    assert retry.scheduled == fabric.next_connection_attempt


def test_the_copy_of_a_new_row_gives_a_value_for_every_copy_column():
    """_copy_values is written out column by column: a column added to COPY_COLUMNS must be added
    there too (else the COPY fails, or shifts every value after it)."""
    from netbox_hedgehog.services import resources

    row = resources.NewRow(
        fabric_id=1, api_group="g", api_version="v", kind="K", plural="ks", namespace="default",
        name="n", first_seen=None, uid="", resource_version="1", generation=1, actual_spec={"a": 1},
        actual_labels={}, actual_annotations={}, actual_status=None, last_seen=None, sync_state="in_sync",
        diff=[],
    )  # fmt: skip
    assert len(resources._copy_values(row)) == len(resources.COPY_COLUMNS)
