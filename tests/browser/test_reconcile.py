"""Reconcile runs exactly what was previewed: the run carries the previewed plan (its direction,
prune and token, in a form of its own), a plan that changed since its preview is refused, and a
plan that deletes runs only once the deletion is confirmed."""

import re

import pytest
from core.models import Job
from playwright.sync_api import expect

from netbox_hedgehog.jobs import ReconcileJob
from netbox_hedgehog.services.reconcile import PLAN_CHANGED
from tests.support.browser import log_in, make_user, state_badge
from tests.support.fabrics import connected_fabric, sync
from tests.support.worker import run_jobs

WIRING = ("wiring.githedgehog.com", "v1beta1", "switches")


def description(cluster, name):
    return cluster.get_object(*WIRING, name)["spec"].get("description")


def edit_in_the_cluster(cluster, name, text):
    cluster.patch_object(*WIRING, name, {"spec": {"description": text}})


@pytest.fixture
def synced(cluster):
    """A connected, active fabric NetBox has synced with the cluster."""
    fabric = sync(connected_fabric(cluster))
    assert fabric.sync_status == "in_sync"
    return fabric


def open_reconcile(page, fabric):
    make_user("operator", superuser=True)
    log_in(page, "operator", then=fabric.get_absolute_url())
    page.get_by_role("link", name="Reconcile").click()
    expect(page.get_by_role("heading", name="What to do")).to_be_visible()


def reconciliations():
    return Job.objects.filter(name=ReconcileJob.Meta.name)


def test_reconcile_now_runs_the_previewed_direction_and_the_cluster_gets_the_desired_value(
    page, cluster, synced
):
    edit_in_the_cluster(cluster, "spine-01", "edited by hand")
    sync(synced)  # NetBox sees the drift
    assert synced.sync_status == "out_of_sync"
    open_reconcile(page, synced)

    page.get_by_label("Apply: make the cluster match NetBox").check()
    page.get_by_role("button", name="Preview (dry run)").click()
    plan = page.locator("#reconcile-plan")
    expect(plan.get_by_role("heading")).to_contain_text("Dry run: 1 action")
    row = plan.locator("tbody > tr").filter(has=page.get_by_role("link", name="spine-01", exact=True))
    expect(row.locator("td").first).to_have_text("patch")
    expect(row.locator("td").nth(3)).to_have_text("would succeed")
    change = row.locator("table tr").filter(has_text="/spec/description")
    expect(change).to_contain_text(re.compile(r"edited by hand\s*→\s*spine 1"))
    assert description(cluster, "spine-01") == "edited by hand"  # a dry run changes nothing

    # The choices above the plan may change after the preview: what runs is the plan's own form.
    page.get_by_label("Adopt: make NetBox match the cluster").check()
    plan.get_by_role("button", name="Reconcile now (this plan)").click()
    expect(page.get_by_text(re.compile(r"Reconciliation queued as job"))).to_be_visible()
    assert run_jobs()

    (job,) = reconciliations()
    assert job.status == "completed", job.error
    assert job.data["direction"] == "apply" and job.data["prune"] is False
    assert [(a["action"], a["name"], a["outcome"]) for a in job.data["actions"]] == [
        ("patch", "spine-01", "ok")
    ]
    assert description(cluster, "spine-01") == "spine 1"
    page.goto(synced.get_absolute_url())
    expect(state_badge(page, "Sync")).to_have_text("In sync")


def test_a_plan_that_changed_since_its_preview_is_refused_and_nothing_runs(page, cluster, synced):
    edit_in_the_cluster(cluster, "spine-01", "edited by hand")
    sync(synced)
    open_reconcile(page, synced)
    page.get_by_role("button", name="Preview (dry run)").click()
    plan = page.locator("#reconcile-plan")
    expect(plan.get_by_role("heading")).to_contain_text("Dry run: 1 action")

    # Meanwhile someone edits another switch, and a sync tells NetBox: the plan is not the one previewed.
    edit_in_the_cluster(cluster, "spine-02", "edited meanwhile")
    sync(synced)
    plan.get_by_role("button", name="Reconcile now (this plan)").click()
    expect(page.get_by_text(PLAN_CHANGED)).to_be_visible()
    expect(page.locator("#reconcile-plan")).to_have_count(0)  # preview again
    assert not run_jobs()
    assert not reconciliations().exists()
    assert (description(cluster, "spine-01"), description(cluster, "spine-02")) == (
        "edited by hand",
        "edited meanwhile",
    )


def test_a_plan_that_deletes_runs_only_once_the_deletion_is_confirmed(page, cluster, synced):
    cluster.put_object(
        {
            "apiVersion": "wiring.githedgehog.com/v1beta1",
            "kind": "Server",
            "metadata": {"name": "stray", "namespace": "default"},
            "spec": {},
        }
    )
    sync(synced)
    open_reconcile(page, synced)
    page.get_by_label("Prune").check()
    page.get_by_role("button", name="Preview (dry run)").click()
    plan = page.locator("#reconcile-plan")
    row = plan.locator("tbody > tr").filter(has=page.get_by_role("link", name="stray", exact=True))
    expect(row.locator("td").first).to_have_text("delete")
    run = plan.get_by_role("button", name="Reconcile now (this plan)")
    confirm = plan.get_by_label("Yes, delete 1 object from the cluster")

    run.click()  # the browser asks for the confirmation first
    assert confirm.evaluate("box => box.validity.valueMissing")
    assert not reconciliations().exists()

    confirm.evaluate("box => box.removeAttribute('required')")  # and so does the server
    run.click()
    expect(
        page.get_by_text("This plan deletes objects from the cluster: confirm it to run it")
    ).to_be_visible()
    assert not reconciliations().exists()

    page.get_by_role("button", name="Preview (dry run)").click()  # prune is still ticked
    plan.get_by_label("Yes, delete 1 object from the cluster").check()
    plan.get_by_role("button", name="Reconcile now (this plan)").click()
    expect(page.get_by_text(re.compile(r"Reconciliation queued as job"))).to_be_visible()
    assert run_jobs()
    (job,) = reconciliations()
    assert job.status == "completed", job.error
    assert (job.data["direction"], job.data["prune"]) == ("apply", True)
    assert cluster.get_object("wiring.githedgehog.com", "v1beta1", "servers", "stray") is None
