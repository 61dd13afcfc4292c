"""The state history in the web UI: its list and detail views, sorting."""

from django.urls import reverse
from utilities.testing import TestCase, ViewTestCases

from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services.state import transition
from tests.support.netbox import PluginURLMixin


class StateTransitionViewTest(
    PluginURLMixin,
    ViewTestCases.GetObjectViewTestCase,
    ViewTestCases.ListObjectsViewTestCase,
):
    model = StateTransition

    @classmethod
    def setUpTestData(cls):
        fabric = HedgehogFabric.objects.create(name="dc1")
        transition(fabric, "status", "active")


class HistoryTableSortingTest(TestCase):
    def test_every_column_of_the_history_sorts_without_error(self):
        fabric = HedgehogFabric.objects.create(name="dc1")
        transition(fabric, "status", "active")
        self.add_permissions("netbox_hedgehog.view_statetransition", "netbox_hedgehog.view_hedgehogfabric")
        url = reverse("plugins:netbox_hedgehog:statetransition_list")
        for column in ("time", "fabric", "field", "previous", "new", "trigger", "reason", "user", "actions"):
            for sort in (column, f"-{column}"):
                response = self.client.get(f"{url}?sort={sort}")
                self.assertHttpStatus(response, 200)
        # the preference a sort leaves behind must not break the fabric page's history either
        self.client.get(f"{url}?sort=new")
        self.assertHttpStatus(self.client.get(f"{url}?fabric_id={fabric.pk}"), 200)
