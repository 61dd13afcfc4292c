"""The state transition filters (by fabric, field, trigger, user, time)."""

from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.test import TestCase

from netbox_hedgehog.filtersets import StateTransitionFilterSet
from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services.state import transition


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
