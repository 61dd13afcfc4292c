"""The sync and reconcile endpoints and buttons, against the emulated cluster."""

import pytest
from core.models import ObjectType
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient
from users.models import ObjectPermission

from netbox_hedgehog.jobs import FabricSyncJob, ReconcileJob
from netbox_hedgehog.models import HedgehogFabric, HedgehogResource

pytestmark = pytest.mark.django_db

WIRING = "wiring.githedgehog.com"


def client_for(fabric, actions=("view", "change", "sync", "reconcile")):
    user = get_user_model().objects.create_user(username=f"u-{'-'.join(actions)}")
    perm = ObjectPermission.objects.create(name=f"p-{user.username}", actions=list(actions))
    perm.users.add(user)
    perm.object_types.add(ObjectType.objects.get_for_model(HedgehogFabric))
    client = APIClient()
    client.force_authenticate(user)
    return client, user


def url(fabric, action):
    return reverse(f"plugins-api:netbox_hedgehog-api:hedgehogfabric-{action}", kwargs={"pk": fabric.pk})


def test_post_sync_answers_202_with_the_job_and_a_second_request_gets_the_same_job(cluster, fabric):
    client, _ = client_for(fabric)
    first = client.post(url(fabric, "sync"))
    second = client.post(url(fabric, "sync"))
    assert first.status_code == second.status_code == 202
    assert (
        first.data["job"]["id"] == second.data["job"]["id"]
        and first.data["created"]
        and not second.data["created"]
    )
    assert first.data["job"]["url"].endswith(f"/api/core/jobs/{first.data['job']['id']}/")
    assert FabricSyncJob.get_jobs(fabric).count() == 1
    fabric.refresh_from_db()
    assert fabric.sync_status == "syncing"


def test_post_sync_is_409_with_the_reason_when_the_fabric_cannot_sync(cluster, fabric):
    from netbox_hedgehog.services.state import transition

    transition(fabric, "status", "maintenance")
    client, _ = client_for(fabric)
    response = client.post(url(fabric, "sync"))
    assert response.status_code == 409
    assert response.data["code"] == "in_maintenance" and "maintenance" in response.data["detail"]


def test_sync_and_reconcile_need_their_own_permissions(cluster, fabric):
    client, _ = client_for(fabric, actions=("view",))
    assert client.post(url(fabric, "sync")).status_code == 403
    assert client.post(url(fabric, "reconcile"), {"direction": "apply"}, format="json").status_code == 403
    assert APIClient().post(url(fabric, "sync")).status_code in (401, 403)
    fabric.refresh_from_db()
    assert fabric.sync_status == "never_synced"


def test_reconcile_dry_run_answers_the_plan_and_a_real_run_answers_202(cluster, fabric):
    FabricSyncJob.enqueue(instance=fabric, immediate=True)
    name = cluster.objects(WIRING, "v1beta1", "switches")[0]["metadata"]["name"]
    cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": "by hand"}})
    FabricSyncJob.enqueue(instance=fabric, immediate=True)
    client, _ = client_for(fabric)
    plan = client.post(url(fabric, "reconcile"), {"direction": "apply"}, format="json")
    assert plan.status_code == 200 and plan.data["dry_run"] is True
    assert [(a["kind"], a["name"], a["action"], a["outcome"]) for a in plan.data["actions"]] == [
        ("Switch", name, "patch", "would succeed")
    ]
    run = client.post(url(fabric, "reconcile"), {"direction": "apply", "dry_run": False}, format="json")
    assert run.status_code == 202
    assert ReconcileJob.get_jobs(fabric).filter(pk=run.data["job"]["id"]).exists()


def test_reconcile_with_a_bad_direction_is_400(cluster, fabric):
    client, _ = client_for(fabric)
    response = client.post(url(fabric, "reconcile"), {"direction": "sideways"}, format="json")
    assert response.status_code == 400 and "direction" in response.data


def test_the_fabric_page_offers_sync_and_reconcile_and_the_reconcile_page_previews(cluster, fabric, client):
    FabricSyncJob.enqueue(instance=fabric, immediate=True)
    user = get_user_model().objects.create_superuser(username="admin-ui")
    client.force_login(user)
    page = client.get(fabric.get_absolute_url()).content.decode()
    assert "Sync</button>" in page and "Reconcile" in page
    preview = client.post(
        reverse("plugins:netbox_hedgehog:hedgehogfabric_reconcile", kwargs={"pk": fabric.pk}),
        {"direction": "adopt", "preview": "1"},
    )
    assert preview.status_code == 200 and "Dry run: 0 actions" in preview.content.decode()
    response = client.post(reverse("plugins:netbox_hedgehog:hedgehogfabric_sync", kwargs={"pk": fabric.pk}))
    assert response.status_code == 302
    assert FabricSyncJob.get_jobs(fabric).count() == 2
    assert HedgehogResource.objects.filter(fabric=fabric).exists()


def test_the_change_permission_alone_neither_syncs_nor_reconciles(cluster, fabric):
    client, _ = client_for(fabric, actions=("view", "change"))
    assert client.post(url(fabric, "sync")).status_code == 403
    assert client.post(url(fabric, "reconcile"), {"direction": "apply"}, format="json").status_code == 403
    sync_only, _ = client_for(fabric, actions=("view", "sync"))
    assert sync_only.post(url(fabric, "reconcile"), {"direction": "apply"}, format="json").status_code == 403
    assert sync_only.post(url(fabric, "sync")).status_code == 202
