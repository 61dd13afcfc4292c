"""A reconciliation runs exactly the plan a person previewed: the preview's token goes with "Reconcile
now", and a plan that differs (another direction, prune, a change in the cluster or NetBox) is
refused before anything is queued, or when the job starts. A preview lists each patch's field
changes, asks for confirmation before deleting, and says when the cluster could not be asked."""

import re

import pytest
from django.urls import reverse

from netbox_hedgehog.jobs import ReconcileJob, request_reconcile
from netbox_hedgehog.models import HedgehogResource
from netbox_hedgehog.services import reconcile
from netbox_hedgehog.services.state import transition
from tests.sync.test_reconcile import row

pytestmark = pytest.mark.django_db


def test_a_preview_lists_the_field_changes_of_each_patch(fabric, drifted):
    report = reconcile.preview(fabric, "apply")
    (patch,) = [a for a in report["actions"] if a["action"] == "patch"]
    assert patch["name"] == drifted["switch"]
    assert {"path": "/spec/description", "actual": "edited by hand"}.items() <= patch["changes"][0].items()
    creates = [a for a in report["actions"] if a["action"] == "create"]
    assert creates and all(a["changes"] == [] for a in creates)
    assert re.fullmatch(r"[0-9a-f]{32}", report["plan"])


def test_the_previewed_plan_runs(cluster, fabric, drifted, django_capture_on_commit_callbacks):
    token = reconcile.preview(fabric, "apply")["plan"]
    with django_capture_on_commit_callbacks(execute=True):
        job, created = request_reconcile(fabric, "apply", expected_plan=token)
    ReconcileJob.handle(job, **job_kwargs(job))
    job.refresh_from_db()
    assert job.status == "completed", job.error
    assert job.data["plan"] == token
    fabric.refresh_from_db()
    assert fabric.sync_status == "out_of_sync"  # the stray server is kept: prune was not previewed


def job_kwargs(job):
    """What the job was queued with (the plugin's options)."""
    import django_rq

    rq_job = django_rq.get_queue(job.queue_name).fetch_job(str(job.job_id))
    return {k: v for k, v in rq_job.kwargs.items() if k not in ("job", "job_id")}


@pytest.mark.parametrize("changed", ["direction", "prune"])
def test_another_direction_or_prune_than_previewed_is_refused_before_anything_is_queued(
    fabric, drifted, changed
):
    token = reconcile.preview(fabric, "apply")["plan"]
    direction, prune = ("adopt", False) if changed == "direction" else ("apply", True)
    with pytest.raises(reconcile.PlanChanged):
        request_reconcile(fabric, direction, prune=prune, expected_plan=token)
    assert not ReconcileJob.get_jobs(fabric).exists()
    fabric.refresh_from_db()
    assert fabric.sync_status == "out_of_sync"


def test_a_plan_changed_between_the_request_and_the_run_does_nothing(
    cluster, fabric, drifted, django_capture_on_commit_callbacks
):
    token = reconcile.preview(fabric, "apply")["plan"]
    with django_capture_on_commit_callbacks(execute=True):
        job, _ = request_reconcile(fabric, "apply", expected_plan=token)
    switch = row(fabric, "Switch", drifted["switch"])
    switch.desired_spec = {**switch.desired_spec, "description": "edited in NetBox meanwhile"}
    switch.save()
    cluster.clear_requests()
    ReconcileJob.handle(job, **job_kwargs(job))
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.data["error"]["code"] == "plan_changed"
    assert [r for r in cluster.requests if r.method in ("POST", "PATCH", "DELETE")] == []
    fabric.refresh_from_db()
    assert fabric.sync_status == "out_of_sync"  # not left syncing


def page(fabric):
    return reverse("plugins:netbox_hedgehog:hedgehogfabric_reconcile", args=[fabric.pk])


def hidden(body, name):
    return re.search(rf'name="{name}" value="([^"]*)"', body).group(1)


def test_the_page_runs_the_previewed_plan_not_what_was_ticked_after_it(
    admin_client, fabric, drifted, django_capture_on_commit_callbacks
):
    body = admin_client.post(page(fabric), {"direction": "apply", "preview": ""}).content.decode()
    assert "Reconcile now (this plan)" in body
    token = hidden(body, "plan")
    # the run form carries the preview's own direction; a forged or stale "adopt" is refused
    response = admin_client.post(page(fabric), {"run": "", "direction": "adopt", "plan": token}, follow=True)
    assert "The plan changed since it was previewed" in response.content.decode()
    assert not ReconcileJob.get_jobs(fabric).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(page(fabric), {"run": "", "direction": "apply", "plan": token})
    (job,) = ReconcileJob.get_jobs(fabric)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job_kwargs(job)["direction"] == "apply" and job_kwargs(job)["expected_plan"] == token


def test_a_plan_that_deletes_asks_for_confirmation(admin_client, fabric, drifted):
    body = admin_client.post(
        page(fabric), {"direction": "apply", "prune": "on", "preview": ""}
    ).content.decode()
    assert "Yes, delete 1 object from the cluster" in body
    token = hidden(body, "plan")
    run = {"run": "", "direction": "apply", "prune": "True", "plan": token}
    body = admin_client.post(page(fabric), run).content.decode()
    assert "confirm it to run it" in body
    assert not ReconcileJob.get_jobs(fabric).exists()
    admin_client.post(page(fabric), {**run, "confirm_prune": "on"})
    assert ReconcileJob.get_jobs(fabric).count() == 1


def test_a_preview_of_a_fabric_that_is_not_connected_says_the_cluster_could_not_be_asked(
    admin_client, fabric, drifted
):
    transition(fabric, "connection_status", "testing")
    transition(fabric, "connection_status", "failed", reason="gone")
    body = admin_client.post(
        page(fabric), {"direction": "adopt", "preview": ""}, follow=True
    ).content.decode()
    assert "Could not ask the cluster" in body
    assert "Nothing to do" not in body
    assert HedgehogResource.objects.filter(fabric=fabric).exists()
