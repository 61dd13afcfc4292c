from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.test import TestCase
from utilities.testing.filtersets import ChangeLoggedFilterSetTestMixin

from netbox_hedgehog.filtersets import HedgehogFabricFilterSet, StateTransitionFilterSet
from netbox_hedgehog.models import HedgehogFabric, StateTransition
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


class StateTransitionFilterSetTest(TestCase):
    queryset = StateTransition.objects.all()
    filterset = StateTransitionFilterSet

    @classmethod
    def setUpTestData(cls):
        cls.user = get_user_model().objects.create_user(username="op")
        cls.f1 = HedgehogFabric.objects.create(name="f1")
        cls.f2 = HedgehogFabric.objects.create(name="f2")
        transition(cls.f1, "status", "active", user=cls.user, reason="deployed")
        transition(cls.f2, "connection_status", "testing", trigger="connection_test")

    def count(self, **params):
        return self.filterset(params, self.queryset).qs.count()

    def test_id(self):
        ids = self.queryset.values_list("pk", flat=True)[:2]
        self.assertEqual(self.count(id=list(ids)), 2)

    def test_fabric(self):
        self.assertEqual(self.count(fabric_id=[self.f1.pk]), 4)
        self.assertEqual(self.count(fabric=["f2"]), 4)

    def test_field_and_trigger(self):
        self.assertEqual(self.count(field=["status"]), 3)
        self.assertEqual(self.count(trigger=["connection_test"]), 1)

    def test_user(self):
        self.assertEqual(self.count(user_id=[self.user.pk]), 1)
        self.assertEqual(self.count(user=["op"]), 1)

    def test_time_range(self):
        self.queryset.filter(reason="deployed").update(time=datetime(2021, 1, 1, tzinfo=UTC))
        self.assertEqual(self.count(time_before="2021-06-01T00:00:00Z"), 1)
        self.assertEqual(self.count(time_after="2021-06-01T00:00:00Z"), 7)

    def test_q(self):
        self.assertEqual(self.count(q="deployed"), 1)
