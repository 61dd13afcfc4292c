from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from rest_framework import status
from utilities.testing import APITestCase, APIViewTestCases

from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services.state import transition

LIST = "plugins-api:netbox_hedgehog-api:statetransition-list"


class StateTransitionAPITest(
    APIViewTestCases.GetObjectViewTestCase,
    APIViewTestCases.ListObjectsViewTestCase,
    APIViewTestCases.GraphQLTestCase,
):
    model = StateTransition
    view_namespace = "plugins-api:netbox_hedgehog"
    graphql_base_name = "hedgehog_state_transition"
    # a transition's fabric is shown to those who may see the fabric
    user_permissions = ("netbox_hedgehog.view_hedgehogfabric",)
    brief_fields = ["display", "field", "id", "new", "previous", "time", "url"]

    @classmethod
    def setUpTestData(cls):
        fabric = HedgehogFabric.objects.create(name="dc1")
        transition(fabric, "status", "active")


class StateTransitionReadOnlyTest(APITestCase):
    model = StateTransition
    view_namespace = "plugins-api:netbox_hedgehog"

    def setUp(self):
        super().setUp()
        self.fabric = HedgehogFabric.objects.create(name="dc1")
        self.other = HedgehogFabric.objects.create(name="dc2")
        transition(self.fabric, "status", "active", user=self.user, reason="go")
        self.add_permissions(
            "netbox_hedgehog.view_statetransition",
            "netbox_hedgehog.add_statetransition",
            "netbox_hedgehog.change_statetransition",
            "netbox_hedgehog.delete_statetransition",
        )

    def test_history_cannot_be_written_even_with_every_permission(self):
        row = StateTransition.objects.filter(fabric=self.fabric).latest("pk")
        detail = reverse("plugins-api:netbox_hedgehog-api:statetransition-detail", kwargs={"pk": row.pk})
        body = {
            "fabric": self.fabric.pk,
            "field": "status",
            "previous": "active",
            "new": "planned",
            "trigger": "manual",
        }
        self.assertHttpStatus(self.client.post(reverse(LIST), body, format="json", **self.header), 405)
        self.assertHttpStatus(
            self.client.patch(detail, {"new": "planned"}, format="json", **self.header), 405
        )
        self.assertHttpStatus(self.client.delete(detail, **self.header), 405)
        self.assertEqual(StateTransition.objects.get(pk=row.pk).new, "active")

    def test_filters_by_fabric_field_trigger_user_and_time(self):
        def names(query):
            response = self.client.get(f"{reverse(LIST)}?{query}", **self.header)
            self.assertHttpStatus(response, status.HTTP_200_OK)
            return [(r["fabric"]["name"], r["field"]["value"], r["new"]) for r in response.data["results"]]

        self.assertEqual(len(names(f"fabric_id={self.fabric.pk}")), 4)
        self.assertEqual(names("fabric=dc1&trigger=manual"), [("dc1", "status", "active")])
        self.assertEqual(names(f"user_id={self.user.pk}"), [("dc1", "status", "active")])
        self.assertEqual(len(names("field=connection_status")), 2)
        future = (timezone.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        self.assertEqual(names(f"time_after={future}"), [])
        self.assertEqual(len(names(f"time_before={future}")), 7)
