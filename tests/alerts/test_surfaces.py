"""Alerts in the UI, the REST API and GraphQL, with their permissions: view, acknowledge (and
suppress), resolve (which runs the follow-up), bulk acknowledge; the fabric page's panel, the fabric
list's column and filter, the dashboard widget."""

from django.urls import reverse
from django.utils import timezone
from rest_framework import status
from utilities.testing import APITestCase, APIViewTestCases, TestCase, ViewTestCases

from netbox_hedgehog.jobs import ConnectionTestJob
from netbox_hedgehog.models import HedgehogFabric, ReconciliationAlert
from netbox_hedgehog.services.state import transition
from tests.support.netbox import PluginURLMixin

API = "plugins-api:netbox_hedgehog-api"


def failing_fabric(name):
    fabric = HedgehogFabric.objects.create(name=name)
    for field, to in (
        ("connection_status", "testing"),
        ("connection_status", "connected"),
        ("status", "active"),
    ):
        transition(fabric, field, to)
    transition(fabric, "connection_status", "failed", reason="gone", details={"connection_attempts": 1})
    return fabric


def alert_of(fabric):
    return ReconciliationAlert.objects.get(fabric=fabric, type="connection_failure")


class AlertAPITest(
    APIViewTestCases.GetObjectViewTestCase,
    APIViewTestCases.ListObjectsViewTestCase,
    APIViewTestCases.GraphQLTestCase,
):
    model = ReconciliationAlert
    view_namespace = "plugins-api:netbox_hedgehog"
    graphql_base_name = "hedgehog_alert"
    user_permissions = ("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.view_hedgehogresource")
    brief_fields = ["display", "id", "severity", "status", "type", "url"]

    @classmethod
    def setUpTestData(cls):
        for i in (1, 2, 3):
            failing_fabric(f"fabric-{i}")


class AlertViewTest(
    PluginURLMixin,
    ViewTestCases.GetObjectViewTestCase,
    ViewTestCases.ListObjectsViewTestCase,
    ViewTestCases.DeleteObjectViewTestCase,
    ViewTestCases.BulkDeleteObjectsViewTestCase,
):
    model = ReconciliationAlert

    @classmethod
    def setUpTestData(cls):
        for i in (1, 2, 3):
            failing_fabric(f"fabric-{i}")


class AlertActionsAPITest(APITestCase):
    def setUp(self):
        super().setUp()
        self.fabric = failing_fabric("dc1")
        self.alert = alert_of(self.fabric)

    def post(self, action, body=None):
        url = reverse(f"{API}:reconciliationalert-{action}", args=[self.alert.pk])
        return self.client.post(url, body or {}, format="json", **self.header)

    def test_acknowledging_needs_the_acknowledge_permission_and_records_who(self):
        self.add_permissions("netbox_hedgehog.view_reconciliationalert")
        self.assertHttpStatus(self.post("acknowledge"), status.HTTP_403_FORBIDDEN)
        self.add_permissions("netbox_hedgehog.acknowledge_reconciliationalert")
        response = self.post("acknowledge", {"note": "looking at it"})
        self.assertHttpStatus(response, status.HTTP_200_OK)
        self.assertEqual(response.data["status"]["value"], "acknowledged")
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.acknowledged_by, self.user)
        last = self.alert.status_changes.last()
        self.assertEqual(
            (last.previous, last.new, last.user, last.note),
            ("active", "acknowledged", self.user, "looking at it"),
        )

    def test_resolving_needs_the_resolve_permission_and_runs_the_follow_up(self):
        self.add_permissions(
            "netbox_hedgehog.view_reconciliationalert", "netbox_hedgehog.acknowledge_reconciliationalert"
        )
        self.assertHttpStatus(self.post("resolve"), status.HTTP_403_FORBIDDEN)
        self.add_permissions("netbox_hedgehog.resolve_reconciliationalert")
        response = self.post("resolve", {"note": "cable replaced"})
        self.assertHttpStatus(response, status.HTTP_200_OK)
        (job,) = ConnectionTestJob.get_jobs(self.fabric)
        self.assertEqual(response.data["status"]["value"], "resolved")
        self.assertEqual(response.data["resolution"]["value"], "manual")
        self.assertEqual(response.data["follow_up_job_id"], job.pk)
        self.assertIn(f"job #{job.pk}", response.data["follow_up"])
        self.fabric.refresh_from_db()
        self.assertEqual(self.fabric.connection_status, "testing")  # the alert's resolution moved the fabric

    def test_a_resolved_alert_cannot_be_acknowledged(self):
        self.add_permissions(
            "netbox_hedgehog.view_reconciliationalert",
            "netbox_hedgehog.acknowledge_reconciliationalert",
            "netbox_hedgehog.resolve_reconciliationalert",
        )
        self.post("resolve")
        response = self.post("acknowledge")
        self.assertHttpStatus(response, status.HTTP_409_CONFLICT)
        self.assertEqual((response.data["current"], response.data["requested"]), ("resolved", "acknowledged"))

    def test_suppressing_needs_a_time_in_the_future(self):
        self.add_permissions(
            "netbox_hedgehog.view_reconciliationalert", "netbox_hedgehog.acknowledge_reconciliationalert"
        )
        past = (timezone.now() - timezone.timedelta(hours=1)).isoformat()
        self.assertHttpStatus(self.post("suppress", {"until": past}), status.HTTP_400_BAD_REQUEST)
        future = (timezone.now() + timezone.timedelta(hours=1)).isoformat()
        response = self.post("suppress", {"until": future})
        self.assertHttpStatus(response, status.HTTP_200_OK)
        self.assertEqual(response.data["status"]["value"], "suppressed")

    def test_a_non_integer_id_is_404(self):
        self.add_permissions(
            "netbox_hedgehog.view_reconciliationalert", "netbox_hedgehog.acknowledge_reconciliationalert"
        )
        url = reverse(f"{API}:reconciliationalert-list") + "abc/acknowledge/"
        self.assertHttpStatus(
            self.client.post(url, {}, format="json", **self.header), status.HTTP_404_NOT_FOUND
        )


class AlertPagesTest(TestCase):
    def setUp(self):
        super().setUp()
        self.fabric = failing_fabric("dc1")
        self.quiet = HedgehogFabric.objects.create(name="quiet")
        self.alert = alert_of(self.fabric)

    def test_the_fabric_page_shows_its_open_alerts(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        content = self.client.get(self.fabric.get_absolute_url()).content.decode()
        self.assertIn("Connection failure", content)
        self.assertIn(self.alert.get_absolute_url(), content)

    def test_the_fabric_list_shows_open_alerts_at_a_glance_and_filters_by_severity(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        url = reverse("plugins:netbox_hedgehog:hedgehogfabric_list")
        content = self.client.get(url + "?open_alert=high").content.decode()
        self.assertIn(">dc1<", content.replace(" ", ""))
        self.assertNotIn(">quiet<", content.replace(" ", ""))
        self.assertIn("is_open=true", content)

    def test_the_alert_page_offers_acknowledge_and_resolve_by_permission(self):
        self.add_permissions(
            "netbox_hedgehog.view_reconciliationalert", "netbox_hedgehog.view_hedgehogfabric"
        )
        content = self.client.get(self.alert.get_absolute_url()).content.decode()
        self.assertNotIn("_acknowledge/", content)
        self.assertIn("You may not acknowledge or resolve", content)
        self.add_permissions(
            "netbox_hedgehog.acknowledge_reconciliationalert", "netbox_hedgehog.resolve_reconciliationalert"
        )
        content = self.client.get(self.alert.get_absolute_url()).content.decode()
        self.assertIn(
            reverse("plugins:netbox_hedgehog:reconciliationalert_acknowledge", args=[self.alert.pk]), content
        )
        self.assertIn("queues a connection test", content)

    def test_resolving_from_the_page_runs_the_follow_up(self):
        self.add_permissions(
            "netbox_hedgehog.view_reconciliationalert", "netbox_hedgehog.resolve_reconciliationalert"
        )
        url = reverse("plugins:netbox_hedgehog:reconciliationalert_resolve", args=[self.alert.pk])
        response = self.client.post(url, {"note": "fixed"}, follow=True)
        self.assertContains(response, "resolved")
        self.alert.refresh_from_db()
        self.assertEqual(
            (self.alert.status, self.alert.resolved_by, self.alert.resolution_note),
            ("resolved", self.user, "fixed"),
        )

    def test_bulk_acknowledge_acknowledges_the_active_selected_alerts(self):
        other = alert_of(failing_fabric("dc2"))
        self.add_permissions(
            "netbox_hedgehog.view_reconciliationalert", "netbox_hedgehog.acknowledge_reconciliationalert"
        )
        url = reverse("plugins:netbox_hedgehog:reconciliationalert_bulk_acknowledge")
        self.assertHttpStatus(self.client.post(url, {"pk": [self.alert.pk, other.pk]}), 302)
        self.assertEqual(
            set(
                ReconciliationAlert.objects.filter(pk__in=[self.alert.pk, other.pk]).values_list(
                    "status", flat=True
                )
            ),
            {"acknowledged"},
        )

    def test_the_dashboard_widget_counts_open_alerts_by_severity(self):
        from netbox_hedgehog.dashboard import OpenAlertsWidget

        self.add_permissions("netbox_hedgehog.view_reconciliationalert")
        request = self.client.get("/").wsgi_request
        request.user = self.user
        html = OpenAlertsWidget().render(request)
        self.assertIn("High: 1", html)
        self.assertIn("dc1", html)
