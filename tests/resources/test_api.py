"""REST API of Hedgehog resources: NetBox's generic mixins, then the desired-state rules."""

from django.urls import reverse
from rest_framework import status
from utilities.testing import APITestCase, APIViewTestCases

from netbox_hedgehog.models import HedgehogFabric, HedgehogResource
from netbox_hedgehog.services.state import transition

SPEC = {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}


def make(fabric, name, **fields):
    return HedgehogResource.objects.create(
        fabric=fabric,
        api_group="vpc.githedgehog.com",
        api_version="v1beta1",
        kind="VPC",
        plural="vpcs",
        name=name,
        **fields,
    )


class HedgehogResourceAPITest(APIViewTestCases.APIViewTestCase):
    model = HedgehogResource
    view_namespace = "plugins-api:netbox_hedgehog"
    graphql_base_name = "hedgehog_resource"
    user_permissions = ("netbox_hedgehog.view_hedgehogfabric",)
    brief_fields = ["display", "id", "kind", "name", "namespace", "sync_state", "url"]
    update_data = {"desired_labels": {"team": "net"}}
    bulk_update_data = {"desired_labels": {"team": "net"}}
    bulk_update_invalid_data = {"desired_spec": ["not", "an", "object"]}

    @classmethod
    def setUpTestData(cls):
        fabric = HedgehogFabric.objects.create(name="dc1")
        for name in ("vpc-1", "vpc-2", "vpc-3"):
            make(fabric, name, desired_spec=SPEC, actual_spec=SPEC)
        cls.create_data = [
            {"fabric": fabric.pk, "kind": "VPC", "name": "vpc-4", "desired_spec": SPEC},
            {
                "fabric": fabric.pk,
                "kind": "Switch",
                "name": "leaf-9",
                "desired_spec": {"role": "server-leaf"},
            },
            {
                "fabric": fabric.pk,
                "kind": "IPv4Namespace",
                "name": "ns-9",
                "desired_spec": {"subnets": ["10.9.0.0/16"]},
            },
        ]


class ResourceRulesAPITest(APITestCase):
    model = HedgehogResource
    view_namespace = "plugins-api:netbox_hedgehog"

    def setUp(self):
        super().setUp()
        self.fabric = HedgehogFabric.objects.create(name="dc1")
        for field, to in [
            ("connection_status", "testing"),
            ("connection_status", "connected"),
            ("sync_status", "syncing"),
            ("sync_status", "in_sync"),
        ]:
            transition(self.fabric, field, to)
        self.vpc = make(self.fabric, "vpc-1", desired_spec=SPEC, actual_spec=SPEC)
        self.url = reverse(
            "plugins-api:netbox_hedgehog-api:hedgehogresource-detail", kwargs={"pk": self.vpc.pk}
        )
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogresource",
            "netbox_hedgehog.change_hedgehogresource",
            "netbox_hedgehog.view_hedgehogfabric",
        )

    def test_the_rest_fields_are_there(self):
        data = self.client.get(self.url, **self.header).data
        for field in ("kind", "name", "namespace", "sync_state", "desired_spec", "actual_spec", "diff"):
            self.assertIn(field, data)
        self.assertEqual(data["sync_state"]["value"], "in_sync")

    def test_editing_the_desired_spec_makes_the_resource_drifted_and_the_fabric_out_of_sync(self):
        spec = {"subnets": {"default": {"subnet": "10.0.2.0/24", "vlan": 1001}}}
        response = self.client.patch(self.url, {"desired_spec": spec}, format="json", **self.header)
        self.assertHttpStatus(response, status.HTTP_200_OK)
        self.assertEqual(response.data["sync_state"]["value"], "drifted")
        self.assertEqual(response.data["diff"][0]["path"], "/spec/subnets/default/subnet")
        self.fabric.refresh_from_db()
        self.assertEqual(self.fabric.sync_status, "out_of_sync")

    def test_a_desired_spec_that_is_not_an_object_is_400_and_changes_nothing(self):
        for bad in (["a", "list"], "text", 5):
            response = self.client.patch(self.url, {"desired_spec": bad}, format="json", **self.header)
            self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
            self.assertIn("desired_spec", response.data)
        self.assertEqual(HedgehogResource.objects.get(pk=self.vpc.pk).desired_spec, SPEC)

    def test_observed_fields_are_read_only(self):
        response = self.client.patch(
            self.url, {"actual_spec": {"x": 1}, "sync_state": "in_sync"}, format="json", **self.header
        )
        self.assertHttpStatus(response, status.HTTP_200_OK)
        self.assertEqual(HedgehogResource.objects.get(pk=self.vpc.pk).actual_spec, SPEC)

    def test_the_identity_cannot_change(self):
        response = self.client.patch(self.url, {"name": "other"}, format="json", **self.header)
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)

    def test_filters_by_fabric_kind_and_state(self):
        other = HedgehogFabric.objects.create(name="dc2")
        make(other, "vpc-x", desired_spec=SPEC)
        url = reverse("plugins-api:netbox_hedgehog-api:hedgehogresource-list")

        def names(query):
            return sorted(r["name"] for r in self.client.get(f"{url}?{query}", **self.header).data["results"])

        self.assertEqual(names(f"fabric_id={self.fabric.pk}"), ["vpc-1"])
        self.assertEqual(names("kind=VPC&sync_state=missing"), ["vpc-x"])
        self.assertEqual(names("fabric=dc2"), ["vpc-x"])
