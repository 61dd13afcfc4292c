"""Per-switch readiness from the Agents (applied when status.lastAppliedGen == metadata.generation,
heartbeat age, versions, reboot, the Applied condition), the switch alerts (a stale heartbeat, an
apply pending too long) that resolve themselves, and where it shows: the fabric page, the switches'
list (filterable to pending and stale), REST and GraphQL."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from netbox_hedgehog.models import HedgehogResource, ReconciliationAlert
from netbox_hedgehog.services import argocd
from tests.argocd.conftest import REVISION, planned_fabric
from tests.support.fabrics import sync
from tests.support.settings import plugin_settings

pytestmark = pytest.mark.django_db


def agent(fabric, name):
    return HedgehogResource.objects.get(fabric=fabric, kind="Agent", name=name)


def open_alerts(fabric, alert_type):
    return list(
        ReconciliationAlert.objects.filter(
            fabric=fabric, type=alert_type, status__in=("active", "acknowledged")
        )
        .select_related("resource")
        .order_by("resource__name")
    )


@pytest.fixture
def lagging(argocd_cluster):
    """leaf-03 has a new configuration it has not applied; leaf-02's heartbeat stopped 2 minutes ago."""
    argocd_cluster.agent_new_generation("leaf-03")
    argocd_cluster.agent_heartbeat("leaf-02", at=datetime.now(UTC) - timedelta(minutes=2))
    return argocd_cluster


def test_readiness_counts_applied_pending_and_stale_switches(lagging):
    fabric = sync(planned_fabric(lagging))
    assert fabric.switch_readiness == {
        "total": 6,
        "applied": 5,
        "pending": ["leaf-03"],
        "stale": ["leaf-02"],
        "reboot_required": [],
    }
    switch = agent(fabric, "leaf-03").switch
    assert (switch.generation, switch.applied_generation, switch.applied) == (6, 5, False)
    assert (switch.applied_reason, switch.applied_message) == ("ApplyInProgress", "Applying generation 6")
    assert (switch.version, switch.software) == ("v0.96.0", "4.5.0-Enterprise_Base")
    assert agent(fabric, "leaf-01").switch.applied
    assert fabric.status == "planned"  # leaf-03 is pending


def test_a_stale_heartbeat_opens_an_alert_that_resolves_when_the_heartbeat_returns(lagging):
    fabric = sync(planned_fabric(lagging))
    (alert,) = open_alerts(fabric, "switch_stale")
    assert alert.resource.name == "leaf-02" and alert.severity == "medium"
    assert "leaf-02: last heartbeat 12" in alert.message and "stale after 60 s" in alert.message
    argocd.review(fabric)  # reviewed again: the same alert, not a second one
    assert [a.pk for a in open_alerts(fabric, "switch_stale")] == [alert.pk]
    lagging.agent_heartbeat("leaf-02")
    sync(fabric)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution) == ("resolved", "automatic")
    assert "switch_stale" not in HedgehogResource.objects.get(pk=alert.resource_id).fabric.open_alerts


def test_a_heartbeat_that_stops_is_found_by_time_alone(argocd_cluster):
    """No event says a heartbeat stopped: the review (the watch's every few seconds, the periodic
    alert review) looks at the time."""
    fabric = sync(planned_fabric(argocd_cluster))
    assert open_alerts(fabric, "switch_stale") == []
    later = timezone.now() + timedelta(seconds=90)
    argocd.review(fabric, now=later)
    assert len(open_alerts(fabric, "switch_stale")) == 6
    assert fabric.switch_readiness["stale"] == sorted(
        a.resource.name for a in open_alerts(fabric, "switch_stale")
    )


def test_the_stale_threshold_is_a_setting(lagging):
    with plugin_settings(switch_stale_after=600):
        fabric = sync(planned_fabric(lagging))
        assert open_alerts(fabric, "switch_stale") == []
        assert fabric.switch_readiness["stale"] == []


def test_an_apply_pending_longer_than_five_minutes_opens_an_alert_that_resolves_when_applied(lagging):
    fabric = sync(planned_fabric(lagging))
    since = agent(fabric, "leaf-03").apply_pending_since
    assert since is not None and agent(fabric, "leaf-01").apply_pending_since is None
    argocd.review(fabric, now=since + timedelta(minutes=4))
    assert open_alerts(fabric, "switch_apply_pending") == []
    lagging.agent_heartbeat("leaf-03")  # the Agent changes, still pending: "since" is kept
    sync(fabric)
    assert agent(fabric, "leaf-03").apply_pending_since == since
    argocd.review(fabric, now=since + timedelta(minutes=6))
    (alert,) = open_alerts(fabric, "switch_apply_pending")
    assert alert.resource.name == "leaf-03" and alert.severity == "low"
    assert "leaf-03: generation 6 not applied for 6 min (applied 5" in alert.message
    assert "ApplyInProgress" in alert.message
    lagging.agent_applies("leaf-03")
    lagging.agent_heartbeat("leaf-02")
    fabric = sync(fabric)
    assert agent(fabric, "leaf-03").apply_pending_since is None
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert fabric.status == "active"  # everything holds now: Argo CD activated it


def test_the_periodic_review_opens_the_alerts_without_the_watch(lagging):
    fabric = sync(planned_fabric(lagging))
    since = agent(fabric, "leaf-03").apply_pending_since
    summary = argocd.review_all(now=since + timedelta(minutes=6))
    assert summary["fabrics_reviewed"] == 1
    assert [a.resource.name for a in open_alerts(fabric, "switch_apply_pending")] == ["leaf-03"]


# --- where it shows ---------------------------------------------------------------------------------


def superuser_client():
    user = get_user_model().objects.create_superuser(username="admin-argocd", password="x")
    api = APIClient()
    api.force_authenticate(user)
    return user, api


def test_rest_shows_the_application_readiness_and_what_is_missing(lagging):
    fabric = sync(planned_fabric(lagging))
    _, api = superuser_client()
    data = api.get(reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-detail", args=[fabric.pk])).json()
    assert data["argocd_namespace"] == "argocd" and data["argocd_application"] == ""
    assert {
        k: data["argocd"][k]
        for k in ("presence", "namespace", "name", "sync_status", "health_status", "phase")
    } == {
        "presence": "found",
        "namespace": "argocd",
        "name": "dc1",
        "sync_status": "Synced",
        "health_status": "Healthy",
        "phase": "Succeeded",
    }
    assert data["argocd"]["revision"] == REVISION
    assert data["argocd"]["message"] == "successfully synced (all tasks run)"
    assert data["switch_readiness"]["applied"] == 5 and data["switch_readiness"]["total"] == 6
    assert data["switch_readiness"]["pending"] == ["leaf-03"] and data["switch_readiness"]["stale"] == [
        "leaf-02"
    ]
    assert data["activation_missing"] == [
        {
            "code": "switches_pending",
            "message": "1 of 6 switches have not applied their current configuration: leaf-03.",
        }
    ]


def test_rest_sets_which_application_deploys_the_fabric_and_refuses_a_bad_name(lagging):
    fabric = planned_fabric(lagging)
    _, api = superuser_client()
    url = reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-detail", args=[fabric.pk])
    response = api.patch(url, {"argocd_namespace": "gitops", "argocd_application": "east"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["argocd_namespace"], response.json()["argocd_application"]) == ("gitops", "east")
    response = api.patch(url, {"argocd_application": "Not A Name"}, format="json")
    assert response.status_code == 400 and "argocd_application" in response.json()
    response = api.patch(url, {"switch_readiness": {"total": 0}}, format="json")
    assert response.status_code == 400 and "switch_readiness" in response.json()


def test_rest_lists_switches_by_readiness(lagging):
    fabric = sync(planned_fabric(lagging))
    _, api = superuser_client()
    url = reverse("plugins-api:netbox_hedgehog-api:hedgehogresource-list")

    def names(readiness):
        data = api.get(url, {"fabric_id": fabric.pk, "readiness": readiness}).json()
        return sorted(r["name"] for r in data["results"])

    assert names("pending") == ["leaf-03"]
    assert names("stale") == ["leaf-02"]
    assert names("applied") == ["border-01", "leaf-01", "leaf-02", "spine-01", "spine-02"]


def test_the_fabric_page_shows_readiness_and_the_missing_condition(lagging, client):
    fabric = sync(planned_fabric(lagging))
    user, _ = superuser_client()
    client.force_login(user)
    page = client.get(fabric.get_absolute_url()).content.decode()
    assert "Ready 5/6" in page
    assert "1 of 6 switches have not applied their current configuration: leaf-03." in page
    assert "argocd/dc1" in page and REVISION[:12] in page
    switches = client.get(
        reverse("plugins:netbox_hedgehog:hedgehogresource_switches"),
        {"fabric_id": fabric.pk, "readiness": "pending"},
    )
    assert switches.status_code == 200
    text = switches.content.decode()
    assert "leaf-03" in text and "ApplyInProgress" in text and "leaf-01" not in text
    stale = client.get(
        reverse("plugins:netbox_hedgehog:hedgehogresource_switches"),
        {"fabric_id": fabric.pk, "readiness": "stale"},
    ).content.decode()
    assert "leaf-02" in stale and "stale" in stale


def test_the_page_says_when_argo_cd_is_not_installed(cluster, client, db):
    fabric = planned_fabric(cluster)
    user, _ = superuser_client()
    client.force_login(user)
    page = client.get(fabric.get_absolute_url()).content.decode()
    assert "Argo CD not installed" in page
    assert "No switch has reported" in page


def test_graphql_has_the_argocd_fields(lagging, client):
    fabric = sync(planned_fabric(lagging))
    user, _ = superuser_client()
    client.force_login(user)
    query = (
        f"{{ hedgehog_fabric(id: {fabric.pk}) {{ argocd_namespace argocd_status switch_readiness "
        "activation_missing } }"
    )
    response = client.post(reverse("graphql"), json.dumps({"query": query}), content_type="application/json")
    body = json.loads(response.content)
    assert "errors" not in body, body
    got = body["data"]["hedgehog_fabric"]
    assert got["argocd_status"]["sync_status"] == "Synced"
    assert got["switch_readiness"]["applied"] == 5
    assert got["activation_missing"][0]["code"] == "switches_pending"


def test_the_fabric_list_can_show_readiness_and_argo_cd(lagging):
    from netbox_hedgehog.tables import HedgehogFabricTable

    fabric = sync(planned_fabric(lagging))
    table = HedgehogFabricTable([fabric])
    assert ">5/6<" in table.render_switch_readiness(fabric)
    assert table.render_argocd(fabric) == "Synced, Healthy"
