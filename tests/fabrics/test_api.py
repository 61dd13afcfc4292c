"""REST API: the generic surface via NetBox's own test mixins, then the state rules."""

from core.models import ObjectType
from django.urls import reverse
from rest_framework import status
from users.models import ObjectPermission, Token
from utilities.testing import APITestCase, APIViewTestCases

from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services.state import transition


class HedgehogFabricAPITest(APIViewTestCases.APIViewTestCase):
    model = HedgehogFabric
    view_namespace = "plugins-api:netbox_hedgehog"
    graphql_base_name = "hedgehog_fabric"
    brief_fields = ["description", "display", "id", "name", "status", "url"]
    create_data = [
        {"name": "fabric-4", "description": "four"},
        {"name": "fabric-5", "status": "active"},
        {"name": "fabric-6", "status": "planned"},
    ]
    bulk_update_data = {"description": "bulk edited"}
    bulk_update_invalid_data = {"name": ""}

    @classmethod
    def setUpTestData(cls):
        for i in (1, 2, 3):
            HedgehogFabric.objects.create(name=f"fabric-{i}")


def fabric_url(fabric, action=None):
    name = "hedgehogfabric-detail" if action is None else f"hedgehogfabric-{action}"
    return reverse(f"plugins-api:netbox_hedgehog-api:{name}", kwargs={"pk": fabric.pk})


class FabricStateAPITest(APITestCase):
    model = HedgehogFabric
    view_namespace = "plugins-api:netbox_hedgehog"

    def setUp(self):
        super().setUp()
        self.fabric = HedgehogFabric.objects.create(name="dc1")
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.change_hedgehogfabric")

    def post_transition(self, body, **kwargs):
        return self.client.post(
            fabric_url(self.fabric, "transition"), body, format="json", **self.header, **kwargs
        )

    def test_transition_moves_the_lifecycle_and_answers_with_the_fabric(self):
        response = self.post_transition({"status": "active", "reason": "deployed"})
        self.assertHttpStatus(response, status.HTTP_200_OK)
        self.assertEqual(response.data["status"]["value"], "active")
        self.assertEqual(response.data["available_transitions"], ["maintenance", "decommissioned"])
        row = StateTransition.objects.filter(fabric=self.fabric).latest("pk")
        self.assertEqual(
            (row.previous, row.new, row.reason, row.user), ("planned", "active", "deployed", self.user)
        )

    def test_a_refused_transition_is_409_with_the_current_state_and_allowed_targets(self):
        response = self.post_transition({"status": "maintenance"})
        self.assertHttpStatus(response, status.HTTP_409_CONFLICT)
        self.assertEqual(response.data["current"], "planned")
        self.assertEqual(response.data["allowed"], ["active"])
        self.assertEqual(response.data["code"], "not_in_table")
        self.assertEqual(
            response.data["detail"], "Lifecycle cannot go from Planned to Maintenance. Allowed: Active."
        )
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).status, "planned")

    def test_an_unknown_status_is_400(self):
        response = self.post_transition({"status": "retired"})
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertIn("status", response.data)

    def test_a_missing_status_is_400(self):
        response = self.post_transition({"reason": "no target"})
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)

    def test_malformed_json_is_400_and_changes_nothing(self):
        response = self.client.post(
            fabric_url(self.fabric, "transition"),
            data="{not json",
            content_type="application/json",
            **self.header,
        )
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertEqual(StateTransition.objects.filter(fabric=self.fabric).count(), 3)

    def test_patch_status_goes_through_the_service(self):
        response = self.client.patch(
            fabric_url(self.fabric), {"status": "active"}, format="json", **self.header
        )
        self.assertHttpStatus(response, status.HTTP_200_OK)
        row = StateTransition.objects.filter(fabric=self.fabric).latest("pk")
        self.assertEqual(
            (row.field, row.previous, row.new, row.trigger), ("status", "planned", "active", "manual")
        )

    def test_patch_with_a_refused_status_is_409_and_changes_nothing_else(self):
        response = self.client.patch(
            fabric_url(self.fabric),
            {"status": "decommissioned", "description": "x"},
            format="json",
            **self.header,
        )
        self.assertHttpStatus(response, status.HTTP_409_CONFLICT)
        self.assertEqual(response.data["allowed"], ["active"])
        stored = HedgehogFabric.objects.get(pk=self.fabric.pk)
        self.assertEqual((stored.status, stored.description), ("planned", ""))

    def test_writing_connection_or_sync_status_is_400_naming_the_action(self):
        for field, action in (("connection_status", "test-connection"), ("sync_status", "sync")):
            response = self.client.patch(
                fabric_url(self.fabric), {field: "connected"}, format="json", **self.header
            )
            self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
            self.assertIn(action, str(response.data[field]))
        response = self.client.patch(
            fabric_url(self.fabric), {"last_sync": "2026-01-01T00:00:00Z"}, format="json", **self.header
        )
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).connection_status, "unknown")

    def test_creating_a_fabric_in_a_state_it_cannot_start_in_is_400(self):
        url = reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-list")
        self.add_permissions("netbox_hedgehog.add_hedgehogfabric")
        response = self.client.post(
            url, {"name": "x", "status": "decommissioned"}, format="json", **self.header
        )
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertFalse(HedgehogFabric.objects.filter(name="x").exists())

    def test_required_action_is_shown_and_filterable(self):
        other = HedgehogFabric.objects.create(name="dc2")
        transition(other, "connection_status", "testing")
        response = self.client.get(fabric_url(self.fabric), **self.header)
        self.assertEqual(response.data["required_action"]["value"], "test_connection")
        self.assertEqual(response.data["state_problems"], [])
        url = reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-list")
        response = self.client.get(f"{url}?required_action=wait_for_test", **self.header)
        self.assertEqual([f["name"] for f in response.data["results"]], ["dc2"])


class FabricTransitionPermissionTest(APITestCase):
    model = HedgehogFabric
    view_namespace = "plugins-api:netbox_hedgehog"

    def setUp(self):
        super().setUp()
        self.fabric = HedgehogFabric.objects.create(name="dc1")

    def post(self, **headers):
        return self.client.post(
            fabric_url(self.fabric, "transition"), {"status": "active"}, format="json", **headers
        )

    def assertUnchanged(self):
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).status, "planned")

    def test_anonymous_is_refused(self):
        self.assertIn(self.post().status_code, (401, 403))
        self.assertUnchanged()

    def test_view_permission_alone_is_refused(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        self.assertHttpStatus(self.post(**self.header), status.HTTP_403_FORBIDDEN)
        self.assertUnchanged()

    def test_add_permission_is_not_change_permission(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.add_hedgehogfabric")
        self.assertHttpStatus(self.post(**self.header), status.HTTP_403_FORBIDDEN)
        self.assertUnchanged()

    def test_a_read_only_token_is_refused(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.change_hedgehogfabric")
        token = Token.objects.create(user=self.user, write_enabled=False)
        header = {"HTTP_AUTHORIZATION": f"{token.get_auth_header_prefix()}{token.token}"}
        self.assertHttpStatus(self.post(**header), status.HTTP_403_FORBIDDEN)
        self.assertUnchanged()

    def _constrained(self, constraints):
        perm = ObjectPermission(name="constrained", actions=["view", "change"], constraints=constraints)
        perm.save()
        perm.users.add(self.user)
        perm.object_types.add(ObjectType.objects.get_for_model(HedgehogFabric))

    def test_object_permission_constraints_are_honoured(self):
        self._constrained({"name": "other"})
        self.assertHttpStatus(self.post(**self.header), status.HTTP_404_NOT_FOUND)
        self.assertUnchanged()

    def test_a_change_that_leaves_the_constraint_is_rolled_back(self):
        self._constrained({"status": "planned"})
        self.assertHttpStatus(self.post(**self.header), status.HTTP_403_FORBIDDEN)
        self.assertUnchanged()
        self.assertEqual(StateTransition.objects.filter(fabric=self.fabric).count(), 3)

    def test_a_constraint_that_matches_allows_the_change(self):
        self._constrained({"name": "dc1"})
        self.assertHttpStatus(self.post(**self.header), status.HTTP_200_OK)
