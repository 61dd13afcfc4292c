"""Events for NetBox's event rules, and notifications for subscribers.

`emit()` hands an event of one of the plugin's types (events.py) to NetBox's events pipeline when
the transaction that caused it commits (at once when there is none), so that event rules fire
webhooks, scripts and notifications exactly for what was written. The event's data is the object
as the REST API shows it after the change (serialized only if a rule wants it), plus what happened
under the key "hedgehog".

`notify_subscribers()` creates NetBox's own notifications for the users subscribed to a fabric.
"""

import time

from core.models import ObjectType
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from extras.events import EventContext, flush_events, serialize_for_event
from extras.models import EventRule, Notification, Subscription
from netbox.context import current_request


class HedgehogEvent(EventContext):
    """NetBox's event context, whose data carries what happened beside the object."""

    def __init__(self, *args, details=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.details = details or {}

    def __getitem__(self, item):
        if item == "data" and "data" not in self:
            data = dict(serialize_for_event(self._serialization_source or self["object"]))
            data["hedgehog"] = self.details
            self.data["data"] = data
        return super().__getitem__(item)


# Whether any enabled event rule listens to (event type, object type), cached a few seconds per
# process (and forgotten at once in the process that changes an event rule: signals.py), so that a
# transition nobody listens to costs no query. Another process sees a new rule within the TTL.
RULES_TTL = 5.0
_listened: dict[tuple[str, int], tuple[float, bool]] = {}
_object_types: dict[type, ObjectType] = {}


def object_type_of(model) -> ObjectType:
    if model not in _object_types:
        _object_types[model] = ObjectType.objects.get_for_model(model)
    return _object_types[model]


def listened(event_type: str, object_type) -> bool:
    key = (event_type, object_type.pk)
    now = time.monotonic()
    cached = _listened.get(key)
    if cached is None or cached[0] < now:
        exists = EventRule.objects.filter(
            event_types__contains=[event_type], object_types=object_type, enabled=True
        ).exists()
        _listened[key] = cached = (now + RULES_TTL, exists)
    return cached[1]


def forget_rules():
    """An event rule changed: decide again whether events are listened to."""
    _listened.clear()


def emit(event_type: str, instance, *, details: dict | None = None, user=None):
    """Queue an event about `instance` for NetBox's event rules, flushed when the transaction commits."""
    object_type = object_type_of(type(instance))
    if not listened(event_type, object_type):
        return
    request = current_request.get()
    context = HedgehogEvent(
        object_type=object_type,
        object_id=instance.pk,
        object=instance,
        event_type=event_type,
        snapshots={"prechange": None, "postchange": None},
        user=user if user is not None else getattr(request, "user", None),
        details=details,
    )
    if request is not None:
        context["request"] = request
    transaction.on_commit(lambda: flush_events([context]))


def notify_subscribers(subscribed_to, event_type: str, about=None):
    """A NetBox notification for every user subscribed to `subscribed_to` (a fabric), about `about`
    (the fabric itself, or an alert of it)."""
    about = about or subscribed_to
    users = list(
        Subscription.objects.filter(
            object_type=ContentType.objects.get_for_model(subscribed_to), object_id=subscribed_to.pk
        ).values_list("user_id", flat=True)
    )
    if users:
        Notification.objects.bulk_create(
            Notification(user_id=user, object=about, event_type=event_type) for user in users
        )
    return len(users)
