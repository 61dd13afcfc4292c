"""What NetBox's own machinery sees of a transition: the change log records lifecycle changes
(docs/state-machine.md says which), the search index is refreshed when a transition writes an
error, and every transition is recorded with the user who caused it."""

import pytest
from core.choices import ObjectChangeActionChoices
from core.models import ObjectChange, ObjectType
from django.test import RequestFactory
from django.urls import reverse
from netbox.context import current_request
from netbox.search.backends import search_backend
from rest_framework.test import APIClient
from utilities.testing import TestCase

from netbox_hedgehog.models import HedgehogFabric, HedgehogResource, StateTransition
from netbox_hedgehog.services.state import transition

pytestmark = pytest.mark.django_db

FABRIC_API = "plugins-api:netbox_hedgehog-api:hedgehogfabric-detail"


def changes_of(fabric):
    return list(
        ObjectChange.objects.filter(
            changed_object_type=ObjectType.objects.get_for_model(HedgehogFabric), changed_object_id=fabric.pk
        ).order_by("pk")
    )


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def test_a_rest_patch_of_the_status_is_one_change_whose_snapshots_hold_both_statuses(api, admin_user):
    fabric = HedgehogFabric.objects.create(name="patched")
    before = len(changes_of(fabric))
    response = api.patch(
        reverse(FABRIC_API, args=[fabric.pk]), {"status": "active", "description": "d"}, format="json"
    )
    assert response.status_code == 200, response.data
    (change,) = changes_of(fabric)[before:]
    assert change.action == ObjectChangeActionChoices.ACTION_UPDATE
    assert (change.prechange_data["status"], change.postchange_data["status"]) == ("planned", "active")
    assert change.postchange_data["description"] == "d"
    assert change.user == admin_user


def test_a_lifecycle_transition_is_in_the_change_log_with_its_user(api, admin_user):
    fabric = HedgehogFabric.objects.create(name="moved")
    response = api.post(
        reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-transition", args=[fabric.pk]),
        {"status": "active", "reason": "deployed"},
        format="json",
    )
    assert response.status_code == 200
    change = changes_of(fabric)[-1]
    assert (change.prechange_data["status"], change.postchange_data["status"]) == ("planned", "active")
    assert change.user == admin_user


def test_connection_and_sync_transitions_stay_out_of_the_change_log():
    fabric = HedgehogFabric.objects.create(name="observed")
    before = len(changes_of(fabric))
    transition(fabric, "connection_status", "testing", trigger="health_check")
    transition(fabric, "connection_status", "connected", trigger="health_check")
    assert len(changes_of(fabric)) == before


@pytest.mark.django_db(transaction=True)
def test_an_error_written_by_a_transition_is_found_by_the_global_search():
    fabric = HedgehogFabric.objects.create(name="searched")
    transition(fabric, "connection_status", "testing")
    transition(fabric, "connection_status", "failed", reason="xyzzy-unreachable-gateway happened")
    found = search_backend.search("xyzzy-unreachable-gateway", lookup="icontains")
    assert fabric.pk in {result.object_id for result in found}


class UsersAreRecordedTest(TestCase):
    user_permissions = (
        "netbox_hedgehog.add_hedgehogfabric",
        "netbox_hedgehog.view_hedgehogfabric",
        "netbox_hedgehog.change_hedgehogresource",
        "netbox_hedgehog.view_hedgehogresource",
    )

    def test_a_csv_import_as_active_records_the_importing_user(self):
        response = self.client.post(
            reverse("plugins:netbox_hedgehog:hedgehogfabric_bulk_import"),
            {"data": "name,status\nimported,active\n", "format": "csv", "csv_delimiter": ","},
        )
        self.assertHttpStatus(response, 302)
        row = StateTransition.objects.get(fabric__name="imported", field="status", new="active")
        self.assertEqual(row.user, self.user)

    def test_a_drift_caused_by_a_users_edit_records_that_user(self):
        fabric = HedgehogFabric.objects.create(name="edited")
        for field, to in (("connection_status", "testing"), ("connection_status", "connected")):
            transition(fabric, field, to)
        resource = HedgehogResource.objects.create(
            fabric=fabric, api_group="vpc.githedgehog.com", api_version="v1beta1", kind="VPC", plural="vpcs",
            name="vpc-1", desired_spec={"a": 1}, actual_spec={"a": 1},
        )  # fmt: skip
        HedgehogFabric.objects.filter(pk=fabric.pk).update(
            sync_status="in_sync", last_sync=fabric.last_validated
        )
        response = self.client.post(
            reverse("plugins:netbox_hedgehog:hedgehogresource_edit", args=[resource.pk]),
            {
                "fabric": fabric.pk,
                "kind": "VPC",
                "namespace": "default",
                "name": "vpc-1",
                "desired_spec": '{"a": 2}',
                "desired_labels": "",
            },
        )
        self.assertHttpStatus(response, 302)
        row = StateTransition.objects.filter(fabric=fabric, field="sync_status").latest("pk")
        self.assertEqual((row.new, row.trigger, row.user), ("out_of_sync", "drift", self.user))


def test_a_transition_called_by_a_script_within_a_request_records_the_requests_user(admin_user):
    fabric = HedgehogFabric.objects.create(name="scripted")
    request = RequestFactory().get("/")
    request.user = admin_user
    token = current_request.set(request)
    try:
        row = transition(fabric, "status", "active", reason="from a script")
    finally:
        current_request.reset(token)
    assert row.user == admin_user
    assert StateTransition.objects.get(pk=row.pk).user == admin_user
