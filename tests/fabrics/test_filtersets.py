"""The fabric filters (by each state, the required action, the connection settings)."""

from django.test import TestCase
from utilities.testing.filtersets import ChangeLoggedFilterSetTestMixin

from netbox_hedgehog.filtersets import HedgehogFabricFilterSet
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.services.state import transition


class HedgehogFabricFilterSetTest(TestCase, ChangeLoggedFilterSetTestMixin):
    queryset = HedgehogFabric.objects.all()
    filterset = HedgehogFabricFilterSet
    # free text, JSON and the secrets (never filterable: that would leak them by probing)
    ignore_fields = (
        "comments",
        "connection_error",
        "sync_error",
        "cluster_info",
        "sync_summary",
        "open_alerts",
        "argocd_status",
        "switch_readiness",
        "kubernetes_token",
        "kubeconfig",
        "kubernetes_ca_cert",
    )

    @classmethod
    def setUpTestData(cls):
        planned = HedgehogFabric.objects.create(name="planned-one", description="first")
        testing = HedgehogFabric.objects.create(name="testing-one", description="second")
        transition(testing, "connection_status", "testing")
        connected = HedgehogFabric.objects.create(name="connected-one", description="third")
        transition(connected, "connection_status", "testing")
        transition(connected, "connection_status", "connected")
        transition(connected, "status", "active")
        cls.fabrics = (planned, testing, connected)

    def count(self, **params):
        return self.filterset(params, self.queryset).qs.count()

    def test_name(self):
        self.assertEqual(self.count(name=["planned-one", "testing-one"]), 2)

    def test_description(self):
        self.assertEqual(self.count(description=["first"]), 1)

    def test_q(self):
        self.assertEqual(self.count(q="connected"), 1)

    def test_status(self):
        self.assertEqual(self.count(status=["active"]), 1)
        self.assertEqual(self.count(status=["planned"]), 2)

    def test_connection_status(self):
        self.assertEqual(self.count(connection_status=["testing", "connected"]), 2)

    def test_sync_status(self):
        self.assertEqual(self.count(sync_status=["never_synced"]), 3)

    def test_required_action(self):
        self.assertEqual(self.count(required_action=["test_connection"]), 1)
        self.assertEqual(self.count(required_action=["wait_for_test", "initial_sync"]), 2)
        self.assertEqual(self.count(required_action=["normal_operation"]), 0)

    def test_an_unknown_required_action_is_an_error_not_everything(self):
        filterset = self.filterset({"required_action": ["bogus"]}, self.queryset)
        self.assertFalse(filterset.is_valid())
