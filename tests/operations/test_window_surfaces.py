"""Maintenance windows in the UI, the REST API and GraphQL (NetBox's own test mixins), with the
refusals of windows that could never do anything: ending before they start, entirely past, or
holding a fabric that cannot enter maintenance."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from rest_framework import status
from utilities.testing import APITestCase, APIViewTestCases, TestCase, ViewTestCases

from netbox_hedgehog.models import HedgehogFabric, MaintenanceWindow
from netbox_hedgehog.services.state import transition
from tests.support.netbox import PluginURLMixin

API = "plugins-api:netbox_hedgehog-api"


def active_fabric(name):
    fabric = HedgehogFabric.objects.create(name=name)
    transition(fabric, "status", "active")
    return fabric


def later(hours):
    return timezone.now() + timedelta(hours=hours)


def window(name, fabrics, start=1, end=2, **fields):
    w = MaintenanceWindow.objects.create(
        name=name, start=later(start), end=later(end), reason="upgrade", **fields
    )
    w.fabrics.set(fabrics)
    return w


class MaintenanceWindowAPITest(APIViewTestCases.APIViewTestCase):
    model = MaintenanceWindow
    view_namespace = "plugins-api:netbox_hedgehog"
    graphql_base_name = "hedgehog_maintenance_window"
    brief_fields = ["display", "end", "id", "name", "start", "url"]
    bulk_update_data = {"reason": "bulk edited"}
    bulk_update_invalid_data = {"name": ""}
    user_permissions = ("netbox_hedgehog.view_hedgehogfabric",)

    @classmethod
    def setUpTestData(cls):
        fabrics = [active_fabric(f"fabric-{i}") for i in (1, 2, 3)]
        for i in (1, 2, 3):
            window(f"window-{i}", fabrics[:i], start=i, end=i + 1)
        cls.create_data = [
            {
                "name": f"new-{i}",
                "fabrics": [fabrics[0].pk],
                "start": later(10 + i),
                "end": later(11 + i),
                "reason": "firmware",
            }
            for i in (1, 2, 3)
        ]


class MaintenanceWindowViewTest(
    PluginURLMixin,
    ViewTestCases.GetObjectViewTestCase,
    ViewTestCases.CreateObjectViewTestCase,
    ViewTestCases.EditObjectViewTestCase,
    ViewTestCases.DeleteObjectViewTestCase,
    ViewTestCases.ListObjectsViewTestCase,
    ViewTestCases.BulkDeleteObjectsViewTestCase,
):
    model = MaintenanceWindow

    @classmethod
    def setUpTestData(cls):
        fabrics = [active_fabric(f"fabric-{i}") for i in (1, 2, 3)]
        for i in (1, 2, 3):
            window(f"window-{i}", fabrics[:i], start=i, end=i + 1)
        cls.form_data = {
            "name": "firmware",
            "fabrics": [fabrics[1].pk],
            "start": later(20).replace(microsecond=0),
            "end": later(22).replace(microsecond=0),
            "reason": "switch firmware",
        }


class WindowRefusalsAPITest(APITestCase):
    def setUp(self):
        super().setUp()
        self.add_permissions(
            "netbox_hedgehog.add_maintenancewindow",
            "netbox_hedgehog.view_maintenancewindow",
            "netbox_hedgehog.view_hedgehogfabric",
        )
        self.active = active_fabric("active-1")

    def create(self, **body):
        body = {
            "name": "w",
            "fabrics": [self.active.pk],
            "start": later(1),
            "end": later(2),
            "reason": "r",
            **body,
        }
        body = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in body.items()}
        return self.client.post(reverse(f"{API}:maintenancewindow-list"), body, format="json", **self.header)

    def test_a_window_records_who_made_it(self):
        response = self.create()
        self.assertHttpStatus(response, status.HTTP_201_CREATED)
        self.assertEqual(response.data["created_by"]["id"], self.user.pk)
        self.assertEqual(response.data["when"], "upcoming")

    def test_a_window_ending_before_it_starts_is_refused_with_the_reason(self):
        response = self.create(start=later(3), end=later(2))
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertIn("end after it starts", str(response.data))

    def test_a_window_entirely_in_the_past_is_refused(self):
        response = self.create(start=later(-3), end=later(-2))
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertIn("entirely in the past", str(response.data))

    def test_a_planned_or_decommissioned_fabric_cannot_be_in_a_window(self):
        planned = HedgehogFabric.objects.create(name="planned-1")
        gone = active_fabric("gone-1")
        transition(gone, "status", "decommissioned")
        for fabric in (planned, gone):
            response = self.create(fabrics=[self.active.pk, fabric.pk])
            self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
            self.assertIn(f"{fabric.name} is {fabric.get_status_display()}", str(response.data["fabrics"]))
        self.assertFalse(MaintenanceWindow.objects.exists())

    def test_a_window_needs_a_fabric(self):
        response = self.create(fabrics=[])
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertIn("fabrics", response.data)


class WindowPagesTest(TestCase):
    user_permissions = (
        "netbox_hedgehog.view_hedgehogfabric",
        "netbox_hedgehog.view_maintenancewindow",
        "netbox_hedgehog.add_maintenancewindow",
    )

    def test_the_form_refuses_a_fabric_that_cannot_enter_maintenance_and_keeps_the_input(self):
        planned = HedgehogFabric.objects.create(name="planned-1")
        response = self.client.post(
            reverse("plugins:netbox_hedgehog:maintenancewindow_add"),
            {
                "name": "kept-name",
                "fabrics": [planned.pk],
                "start": later(1).strftime("%Y-%m-%d %H:%M:%S"),
                "end": later(2).strftime("%Y-%m-%d %H:%M:%S"),
                "reason": "kept reason",
            },
        )
        self.assertHttpStatus(response, 200)
        body = response.content.decode()
        self.assertIn("planned-1 is Planned: it cannot enter maintenance.", body)
        self.assertIn("kept reason", body)
        self.assertFalse(MaintenanceWindow.objects.exists())

    def test_the_fabric_page_shows_its_current_and_next_windows(self):
        fabric = active_fabric("dc1")
        window("now-window", [fabric], start=-1, end=1)
        window("next-window", [fabric], start=5, end=6)
        window("past-window", [fabric], start=-5, end=-4)
        response = self.client.get(fabric.get_absolute_url())
        body = response.content.decode()
        self.assertIn("now-window", body)
        self.assertIn("next-window", body)
        self.assertNotIn("past-window", body)

    def test_the_window_list_filters_current_upcoming_and_past(self):
        fabric = active_fabric("dc1")
        window("now-window", [fabric], start=-1, end=1)
        window("next-window", [fabric], start=5, end=6)
        url = reverse("plugins:netbox_hedgehog:maintenancewindow_list")
        body = self.client.get(url + "?when=upcoming").content.decode()
        self.assertIn("next-window", body)
        self.assertNotIn("now-window", body)
