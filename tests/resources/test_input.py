"""What a user gives for a resource is checked as Kubernetes would check it, duplicates are field
errors (not a 500), and a read-only kind can still have its tags edited."""

from django.urls import reverse
from extras.models import Tag
from rest_framework import status
from utilities.testing import APITestCase, TestCase

from netbox_hedgehog.models import HedgehogFabric, HedgehogResource

ADD = "plugins:netbox_hedgehog:hedgehogresource_add"
API = "plugins-api:netbox_hedgehog-api:hedgehogresource-list"


def agent(fabric):
    return HedgehogResource.objects.create(
        fabric=fabric, api_group="agent.githedgehog.com", api_version="v1beta1", kind="Agent",
        plural="agents", name="leaf-01", actual_spec={}, actual_status={"lastAppliedGen": 1}, generation=1,
    )  # fmt: skip


class ResourceFormTest(TestCase):
    user_permissions = (
        "netbox_hedgehog.add_hedgehogresource",
        "netbox_hedgehog.change_hedgehogresource",
        "netbox_hedgehog.view_hedgehogresource",
        "netbox_hedgehog.view_hedgehogfabric",
        "extras.view_tag",
    )

    def setUp(self):
        super().setUp()
        self.fabric = HedgehogFabric.objects.create(name="dc1")

    def post(self, **fields):
        data = {
            "fabric": self.fabric.pk,
            "kind": "VPC",
            "namespace": "default",
            "name": "ui-vpc",
            "desired_spec": "{}",
        }
        return self.client.post(reverse(ADD), {**data, **fields})

    def test_adding_a_resource_that_already_exists_is_a_field_error_not_a_500(self):
        self.assertHttpStatus(self.post(), 302)
        response = self.post()
        self.assertHttpStatus(response, 200)
        self.assertIn(
            "A VPC default/ui-vpc already exists in this fabric", str(response.context["form"].errors)
        )
        self.assertEqual(HedgehogResource.objects.filter(name="ui-vpc").count(), 1)

    def test_kubernetes_naming_rules_are_checked_on_the_form(self):
        cases = {
            "name": {"name": "ui-Bad Name!"},
            "namespace": {"namespace": "Other NS!"},
            "desired_labels": {"desired_labels": "x<b>: y"},
        }
        for field, fields in cases.items():
            with self.subTest(field=field):
                response = self.post(**fields)
                self.assertHttpStatus(response, 200)
                self.assertIn(field, response.context["form"].errors)
        self.assertFalse(HedgehogResource.objects.exists())

    def test_the_add_form_starts_with_no_kind_and_the_fabrics_namespace(self):
        self.fabric.kubernetes_namespace = "fabric-ns"
        self.fabric.save()
        response = self.client.get(reverse(ADD) + f"?fabric={self.fabric.pk}")
        form = response.context["form"]
        self.assertEqual(form.fields["kind"].choices[0][0], "")
        self.assertEqual(form.initial["namespace"], "fabric-ns")

    def test_an_agent_shows_its_kind_and_its_tags_can_be_edited(self):
        resource = agent(self.fabric)
        tag = Tag.objects.create(name="leaf", slug="leaf")
        url = reverse("plugins:netbox_hedgehog:hedgehogresource_edit", args=[resource.pk])
        form = self.client.get(url).context["form"]
        self.assertEqual(form.fields["kind"].choices, [("Agent", "Agent")])
        response = self.client.post(
            url,
            {
                "fabric": self.fabric.pk,
                "kind": "Agent",
                "namespace": "default",
                "name": "leaf-01",
                "tags": [tag.pk],
            },
        )
        self.assertHttpStatus(response, 302)
        resource.refresh_from_db()
        self.assertEqual(([t.slug for t in resource.tags.all()], resource.desired_spec), (["leaf"], None))


class ResourceAPIInputTest(APITestCase):
    def setUp(self):
        super().setUp()
        self.add_permissions("netbox_hedgehog.add_hedgehogresource", "netbox_hedgehog.view_hedgehogresource")
        self.fabric = HedgehogFabric.objects.create(name="dc1")

    def post(self, **fields):
        body = {"fabric": self.fabric.pk, "kind": "VPC", "name": "api-vpc", "desired_spec": {}, **fields}
        return self.client.post(reverse(API), body, format="json", **self.header)

    def test_a_duplicate_is_a_400_naming_the_resource(self):
        self.assertHttpStatus(self.post(), status.HTTP_201_CREATED)
        response = self.post()
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertIn("already exists in this fabric", str(response.data))

    def test_names_namespaces_and_labels_follow_kubernetes_rules(self):
        for field, fields in {
            "name": {"name": "Bad_Name"},
            "namespace": {"namespace": "-x"},
            "desired_labels": {"desired_labels": {"team/": "a"}},
        }.items():
            with self.subTest(field=field):
                response = self.post(**fields)
                self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
                self.assertIn(field, response.data)
