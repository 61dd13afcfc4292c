"""GraphQL: what docs/api.md promises of fabrics (the required_action filter, the counts and the
sync interval) answers, and never a secret."""

import json

from django.urls import reverse
from utilities.testing import APITestCase

from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.services.state import transition


class FabricGraphQLTest(APITestCase):
    def setUp(self):
        super().setUp()
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        self.planned = HedgehogFabric.objects.create(name="planned", sync_interval=15)
        self.testing = HedgehogFabric.objects.create(name="testing")
        transition(self.testing, "connection_status", "testing")
        HedgehogFabric.objects.filter(pk=self.planned.pk).update(sync_summary={"in_sync": 3, "drifted": 1})

    def query(self, text):
        response = self.client.post(
            reverse("graphql"),
            data=json.dumps({"query": text}),
            content_type="application/json",
            **self.header,
        )
        self.assertHttpStatus(response, 200)
        body = json.loads(response.content)
        self.assertNotIn("errors", body, body.get("errors"))
        return body["data"]

    def test_the_required_action_filter_selects_by_what_the_states_ask_for(self):
        data = self.query('{ hedgehog_fabric_list(filters: {required_action: ["wait_for_test"]}) { name } }')
        self.assertEqual([f["name"] for f in data["hedgehog_fabric_list"]], ["testing"])
        data = self.query(
            '{ hedgehog_fabric_list(filters: {required_action: ["test_connection", "wait_for_test"]}) { name } }'
        )
        self.assertEqual(sorted(f["name"] for f in data["hedgehog_fabric_list"]), ["planned", "testing"])

    def test_the_fabric_type_has_its_counts_and_sync_interval(self):
        data = self.query(
            f"{{ hedgehog_fabric(id: {self.planned.pk}) {{ name sync_summary sync_interval }} }}"
        )
        fabric = data["hedgehog_fabric"]
        self.assertEqual(
            (fabric["sync_summary"], fabric["sync_interval"]), ({"in_sync": 3, "drifted": 1}, 15)
        )
