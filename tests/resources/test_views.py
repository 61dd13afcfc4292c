"""Resources in the web UI: the generic views via NetBox's own test mixins, the resource page, the list's buttons."""

from django.urls import reverse
from utilities.testing import TestCase, ViewTestCases

from netbox_hedgehog.models import HedgehogFabric, HedgehogResource
from tests.support.netbox import PluginURLMixin

SPEC = {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}


class HedgehogResourceViewTest(
    PluginURLMixin,
    ViewTestCases.GetObjectViewTestCase,
    ViewTestCases.CreateObjectViewTestCase,
    ViewTestCases.EditObjectViewTestCase,
    ViewTestCases.DeleteObjectViewTestCase,
    ViewTestCases.ListObjectsViewTestCase,
    ViewTestCases.BulkDeleteObjectsViewTestCase,
):
    model = HedgehogResource

    @classmethod
    def setUpTestData(cls):
        fabric = HedgehogFabric.objects.create(name="dc1")
        for name in ("vpc-1", "vpc-2", "vpc-3"):
            HedgehogResource.objects.create(
                fabric=fabric,
                api_group="vpc.githedgehog.com",
                api_version="v1beta1",
                kind="VPC",
                plural="vpcs",
                name=name,
                desired_spec=SPEC,
                actual_spec=SPEC,
            )
        cls.form_data = {
            "fabric": fabric.pk,
            "kind": "VPC",
            "namespace": "default",
            "name": "vpc-9",
            # JSON is YAML too; written as NetBox's test compares it (the stored value as JSON)
            "desired_spec": '{"subnets": {"default": {"subnet": "10.0.9.0/24"}}}',
            "desired_labels": "{}",
            "tags": [],
        }

    # NetBox's create and edit tests post the same form_data; an edit never changes a resource's
    # identity (its name stays vpc-1), so the name is left out of their comparison.
    validation_excluded_fields = ("name",)


class ResourcePageTest(TestCase):
    def test_an_edit_keeps_the_identity(self):
        fabric = HedgehogFabric.objects.create(name="dc1")
        vpc = HedgehogResource.objects.create(
            fabric=fabric,
            api_group="vpc.githedgehog.com",
            api_version="v1beta1",
            kind="VPC",
            plural="vpcs",
            name="vpc-1",
            desired_spec={},
            actual_spec={},
        )
        self.add_permissions("netbox_hedgehog.change_hedgehogresource", "netbox_hedgehog.view_hedgehogfabric")
        from django.urls import reverse

        self.client.post(
            reverse("plugins:netbox_hedgehog:hedgehogresource_edit", kwargs={"pk": vpc.pk}),
            {
                "fabric": fabric.pk,
                "kind": "Switch",
                "namespace": "x",
                "name": "renamed",
                "desired_spec": "mode: l3vni",
            },
        )
        vpc.refresh_from_db()
        self.assertEqual(
            (vpc.kind, vpc.namespace, vpc.name, vpc.desired_spec),
            ("VPC", "default", "vpc-1", {"mode": "l3vni"}),
        )

    def test_desired_and_actual_side_by_side_with_the_difference(self):
        fabric = HedgehogFabric.objects.create(name="dc1")
        vpc = HedgehogResource.objects.create(
            fabric=fabric,
            api_group="vpc.githedgehog.com",
            api_version="v1beta1",
            kind="VPC",
            plural="vpcs",
            name="vpc-1",
            desired_spec={"mode": "l2vni"},
            actual_spec={"mode": "l3vni"},
        )
        self.assertEqual(vpc.sync_state, "drifted")
        self.add_permissions("netbox_hedgehog.view_hedgehogresource", "netbox_hedgehog.view_hedgehogfabric")
        content = self.client.get(vpc.get_absolute_url()).content.decode()
        for text in ("Desired (NetBox)", "Actual (cluster)", "/spec/mode", "l2vni", "l3vni", "1 difference"):
            self.assertIn(text, content)

    def test_a_desired_spec_that_is_not_an_object_is_refused_by_the_form(self):
        fabric = HedgehogFabric.objects.create(name="dc1")
        self.add_permissions("netbox_hedgehog.add_hedgehogresource", "netbox_hedgehog.view_hedgehogfabric")
        from django.urls import reverse

        for bad, message in (("- a\n- list\n", "Give an object"), ("a: [unclosed\n", "Not valid YAML")):
            response = self.client.post(
                reverse("plugins:netbox_hedgehog:hedgehogresource_add"),
                {
                    "fabric": fabric.pk,
                    "kind": "VPC",
                    "namespace": "default",
                    "name": "v",
                    "desired_spec": bad,
                },
            )
            self.assertHttpStatus(response, 200)
            self.assertContains(response, message)
        self.assertFalse(HedgehogResource.objects.exists())


class ResourceListButtonsTest(TestCase):
    def test_the_list_offers_no_button_without_a_view(self):
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogresource",
            "netbox_hedgehog.add_hedgehogresource",
            "netbox_hedgehog.change_hedgehogresource",
            "netbox_hedgehog.delete_hedgehogresource",
        )
        content = self.client.get(reverse("plugins:netbox_hedgehog:hedgehogresource_list")).content.decode()
        self.assertNotIn('href="None"', content)
        self.assertNotIn('formaction="None"', content)
