"""Web UI: the generic views via NetBox's own test mixins, then the lifecycle buttons."""

from core.models import ObjectType
from django.test import override_settings
from django.urls import reverse
from users.models import ObjectPermission
from utilities.testing import TestCase, ViewTestCases

from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services.state import transition
from tests.support.netbox import PluginURLMixin


class HedgehogFabricViewTest(PluginURLMixin, ViewTestCases.PrimaryObjectViewTestCase):
    model = HedgehogFabric
    form_data = {
        "name": "fabric-x",
        "description": "new",
        "kubernetes_namespace": "default",
        "kubernetes_verify_tls": True,
        "comments": "",
        "tags": [],
    }
    csv_data = (
        "name,description,status",
        "fabric-4,four,",
        "fabric-5,five,active",
        "fabric-6,six,planned",
    )
    bulk_edit_data = {"description": "bulk"}

    @classmethod
    def setUpTestData(cls):
        fabrics = [HedgehogFabric.objects.create(name=f"fabric-{i}") for i in (1, 2, 3)]
        cls.csv_update_data = (
            "id,description",
            f"{fabrics[0].pk},changed",
            f"{fabrics[1].pk},changed",
        )

    def test_import_with_an_active_status_goes_through_the_service(self):
        # covered by the csv_data import above; here the history proves the path
        self.add_permissions("netbox_hedgehog.add_hedgehogfabric")
        response = self.client.post(
            self._get_url("bulk_import"),
            {"data": "name,status\nimported,active", "format": "csv", "csv_delimiter": ","},
        )
        self.assertHttpStatus(response, 302)
        fabric = HedgehogFabric.objects.get(name="imported")
        self.assertEqual(fabric.status, "active")
        self.assertTrue(
            StateTransition.objects.filter(fabric=fabric, previous="planned", new="active").exists()
        )


class LifecycleButtonsTest(TestCase):
    def setUp(self):
        super().setUp()
        self.fabric = HedgehogFabric.objects.create(name="dc1")
        self.url = reverse("plugins:netbox_hedgehog:hedgehogfabric_transition", kwargs={"pk": self.fabric.pk})

    def test_the_page_offers_only_the_allowed_transitions(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.change_hedgehogfabric")
        transition(self.fabric, "status", "active")
        response = self.client.get(self.fabric.get_absolute_url())
        self.assertHttpStatus(response, 200)
        content = response.content.decode()
        self.assertIn('name="status" value="maintenance"', content)
        self.assertIn('name="status" value="decommissioned"', content)
        self.assertNotIn('name="status" value="planned"', content)
        self.assertNotIn('name="status" value="active"', content)

    def test_without_change_permission_no_button_is_offered(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        content = self.client.get(self.fabric.get_absolute_url()).content.decode()
        self.assertNotIn('name="status" value="active"', content)

    def test_a_button_moves_the_lifecycle_with_the_reason(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.change_hedgehogfabric")
        response = self.client.post(self.url, {"status": "active", "reason": "go live"})
        self.assertHttpStatus(response, 302)
        row = StateTransition.objects.filter(fabric=self.fabric).latest("pk")
        self.assertEqual((row.new, row.reason, row.user), ("active", "go live", self.user))

    def test_a_refused_transition_changes_nothing_and_says_why(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.change_hedgehogfabric")
        response = self.client.post(self.url, {"status": "maintenance"}, follow=True)
        # in words, once (not raw field names, not twice)
        self.assertContains(
            response, "Lifecycle cannot go from Planned to Maintenance. Allowed: Active.", count=1
        )
        self.assertNotContains(response, "status cannot go")
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).status, "planned")

    def test_decommissioning_asks_for_confirmation(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.change_hedgehogfabric")
        transition(self.fabric, "status", "active")
        content = self.client.get(self.fabric.get_absolute_url()).content.decode()
        self.assertIn('name="confirm_decommission"', content)
        self.assertEqual(content.count('name="reason"'), 1)  # one reason for every button
        response = self.client.post(self.url, {"status": "decommissioned"}, follow=True)
        self.assertContains(response, "Decommissioning is final")
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).status, "active")
        self.client.post(self.url, {"status": "decommissioned", "confirm_decommission": "on"})
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).status, "decommissioned")

    def test_an_unknown_status_changes_nothing(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.change_hedgehogfabric")
        self.client.post(self.url, {"status": "retired"})
        self.assertEqual(StateTransition.objects.filter(fabric=self.fabric).count(), 3)

    def test_without_change_permission_the_post_is_refused(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        response = self.client.post(self.url, {"status": "active"})
        self.assertHttpStatus(response, 403)
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).status, "planned")

    def test_object_permission_constraints_are_honoured(self):
        perm = ObjectPermission(name="other only", actions=["view", "change"], constraints={"name": "other"})
        perm.save()
        perm.users.add(self.user)
        perm.object_types.add(ObjectType.objects.get_for_model(HedgehogFabric))
        response = self.client.post(self.url, {"status": "active"})
        self.assertHttpStatus(response, 404)
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).status, "planned")

    @override_settings(LOGIN_REQUIRED=True)
    def test_anonymous_post_is_refused(self):
        self.client.logout()
        response = self.client.post(self.url, {"status": "active"})
        self.assertIn(response.status_code, (302, 403))
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).status, "planned")

    def test_the_detail_page_shows_states_required_action_and_history(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.view_statetransition")
        content = self.client.get(self.fabric.get_absolute_url()).content.decode()
        for text in (
            "Planned",
            "Unknown",
            "Never synced",
            "Test connection when ready",
            "Consistent",
            "State history",
        ):
            self.assertIn(text, content)


class BulkLifecycleTest(TestCase):
    url = reverse("plugins:netbox_hedgehog:hedgehogfabric_bulk_transition")

    def setUp(self):
        super().setUp()
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.change_hedgehogfabric")
        self.one, self.two, self.planned = (
            HedgehogFabric.objects.create(name=n) for n in ("one", "two", "planned")
        )
        for fabric in (self.one, self.two):
            transition(fabric, "status", "active")

    def test_the_list_offers_it_and_the_page_shows_what_each_fabric_allows(self):
        self.assertContains(
            self.client.get(reverse("plugins:netbox_hedgehog:hedgehogfabric_list")), "Change Lifecycle"
        )
        response = self.client.post(self.url, {"pk": [self.one.pk, self.planned.pk]})
        self.assertHttpStatus(response, 200)
        self.assertContains(response, "Maintenance, Decommissioned")
        self.assertEqual(HedgehogFabric.objects.get(pk=self.one.pk).status, "active")  # nothing yet

    def test_each_fabric_moves_through_its_own_table_and_a_refusal_is_named(self):
        pks = [self.one.pk, self.two.pk, self.planned.pk]
        response = self.client.post(
            self.url, {"pk": pks, "_apply": "", "status": "maintenance", "reason": "firmware"}, follow=True
        )
        self.assertContains(response, "2 fabric(s) now Maintenance.")
        self.assertContains(response, "planned: Lifecycle cannot go from Planned to Maintenance.")
        statuses = dict(HedgehogFabric.objects.values_list("name", "status"))
        self.assertEqual(statuses, {"one": "maintenance", "two": "maintenance", "planned": "planned"})
        row = StateTransition.objects.filter(fabric=self.one, field="status").latest("pk")
        self.assertEqual((row.reason, row.user), ("firmware", self.user))

    def test_decommissioning_in_bulk_needs_the_confirmation(self):
        body = {"pk": [self.one.pk], "_apply": "", "status": "decommissioned"}
        self.assertContains(self.client.post(self.url, body), "Decommissioning is final")
        self.assertEqual(HedgehogFabric.objects.get(pk=self.one.pk).status, "active")
        self.client.post(self.url, {**body, "confirm_decommission": "on"})
        self.assertEqual(HedgehogFabric.objects.get(pk=self.one.pk).status, "decommissioned")


class FabricEditFormTest(TestCase):
    def test_remove_a_secret_is_offered_only_when_one_is_stored(self):
        fabric = HedgehogFabric.objects.create(name="dc1")
        self.add_permissions("netbox_hedgehog.change_hedgehogfabric")
        url = reverse("plugins:netbox_hedgehog:hedgehogfabric_edit", kwargs={"pk": fabric.pk})
        content = self.client.get(url).content.decode()
        self.assertNotIn('type="checkbox" name="remove_kubernetes_token"', content)
        HedgehogFabric.objects.filter(pk=fabric.pk).update(kubernetes_token="fernet:stored")
        content = self.client.get(url).content.decode()
        self.assertIn('type="checkbox" name="remove_kubernetes_token"', content)
        self.assertNotIn("fernet:stored", content)
