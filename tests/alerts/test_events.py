"""The plugin's events reach NetBox's event rules: a webhook pointing at a real HTTP receiver on
127.0.0.1 gets one POST with the right body for a failed connection test, for an alert opened and
for an alert resolved; a user subscribed to a fabric gets NetBox notifications for its lifecycle
changes and its high alerts."""

import django_rq
import pytest
from core.models import ObjectType
from extras.choices import EventRuleActionChoices
from extras.models import EventRule, Notification, Subscription, Webhook

from netbox_hedgehog import events
from netbox_hedgehog.models import HedgehogFabric, ReconciliationAlert
from netbox_hedgehog.services.state import transition
from tests.support.fabrics import make_fabric, run_test
from tests.support.receiver import Receiver
from tests.support.worker import run_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    queue = django_rq.get_queue("default")
    queue.empty()
    with Receiver() as receiver:
        yield receiver
    queue.empty()


def rule_for(receiver, event_type, model, conditions=None):
    webhook = Webhook.objects.create(name=f"hook {event_type}", payload_url=receiver.url, http_method="POST")
    rule = EventRule.objects.create(
        name=f"rule {event_type}",
        event_types=[event_type],
        action_type=EventRuleActionChoices.WEBHOOK,
        action_object_type=ObjectType.objects.get_for_model(Webhook),
        action_object_id=webhook.pk,
        conditions=conditions,
    )
    rule.object_types.set([ObjectType.objects.get_for_model(model)])
    return rule


def deliver():
    """Run the queued webhooks as a worker would (in this process)."""
    run_jobs(["default"])


def test_a_failed_connection_test_posts_one_webhook_with_the_fabric_and_the_transition(
    cluster, receiver, django_capture_on_commit_callbacks
):
    rule_for(
        receiver,
        events.FABRIC_STATE_CHANGED,
        HedgehogFabric,
        conditions={"attr": "connection_status.value", "value": "failed"},
    )
    fabric = make_fabric(server=cluster.closed_port_url())
    with django_capture_on_commit_callbacks(execute=True):
        run_test(fabric)
    deliver()
    assert fabric.connection_status == "failed"
    (post,) = receiver.received
    body = post["body"]
    assert (
        body["event"] == events.FABRIC_STATE_CHANGED
        and body["object_type"] == "netbox_hedgehog.hedgehogfabric"
    )
    data = body["data"]
    assert (data["id"], data["name"], data["connection_status"]["value"]) == (fabric.pk, "dc1", "failed")
    assert "kubernetes_token" not in data  # the fabric as the REST API shows it: no secret
    hedgehog = data["hedgehog"]
    assert (hedgehog["field"], hedgehog["previous"], hedgehog["new"]) == (
        "connection_status",
        "testing",
        "failed",
    )
    assert (
        hedgehog["trigger"] == "connection_test"
        and hedgehog["job"]
        and "refused" in hedgehog["reason"].lower()
    )


def test_an_alert_opened_and_resolved_each_post_a_webhook(receiver, django_capture_on_commit_callbacks):
    rule_for(receiver, events.ALERT_OPENED, ReconciliationAlert)
    rule_for(receiver, events.ALERT_RESOLVED, ReconciliationAlert)
    fabric = HedgehogFabric.objects.create(name="dc1")
    with django_capture_on_commit_callbacks(execute=True):
        for field, to in (
            ("connection_status", "testing"),
            ("connection_status", "connected"),
            ("status", "active"),
        ):
            transition(fabric, field, to)
        transition(fabric, "connection_status", "failed", reason="gone", details={"connection_attempts": 1})
        transition(fabric, "connection_status", "testing")
        transition(fabric, "connection_status", "connected", details={"connection_attempts": 0})
    deliver()
    assert [p["body"]["event"] for p in receiver.received] == [events.ALERT_OPENED, events.ALERT_RESOLVED]
    opened, resolved = (p["body"]["data"] for p in receiver.received)
    assert (opened["type"]["value"], opened["severity"]["value"], opened["fabric"]["name"]) == (
        "connection_failure",
        "high",
        "dc1",
    )
    assert (resolved["status"]["value"], resolved["resolution"]["value"]) == ("resolved", "automatic")


def test_a_subscriber_is_notified_of_lifecycle_changes_and_high_alerts(admin_user):
    fabric = HedgehogFabric.objects.create(name="watched")
    Subscription.objects.create(user=admin_user, object=fabric)
    transition(fabric, "connection_status", "testing")
    transition(fabric, "connection_status", "connected")
    assert Notification.objects.filter(user=admin_user).count() == 0  # observations are not news
    transition(fabric, "status", "active", reason="deployed")
    transition(fabric, "connection_status", "failed", reason="gone", details={"connection_attempts": 1})
    notes = list(Notification.objects.filter(user=admin_user).order_by("pk"))
    assert [(n.event_type, type(n.object).__name__) for n in notes] == [
        (events.FABRIC_STATE_CHANGED, "HedgehogFabric"),
        (events.ALERT_OPENED, "ReconciliationAlert"),
    ]
