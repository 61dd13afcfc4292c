"""The plugin's event types, for NetBox's event rules (webhooks, scripts, notifications).

Registered by the app's ready(); emitted by services.events when the transaction that caused them
commits. Each event's object is the fabric (or the alert) as the REST API shows it after the change;
the details of what happened are under `data["hedgehog"]` (docs/events.md).
"""

from django.utils.translation import gettext_lazy as _
from netbox.events import EVENT_TYPE_KIND_DANGER, EVENT_TYPE_KIND_INFO, EVENT_TYPE_KIND_SUCCESS, EventType

FABRIC_STATE_CHANGED = "hedgehog_fabric_state_changed"
ALERT_OPENED = "hedgehog_alert_opened"
ALERT_RESOLVED = "hedgehog_alert_resolved"
SYNC_FINISHED = "hedgehog_sync_finished"
RECONCILE_FINISHED = "hedgehog_reconcile_finished"

EVENT_TYPES = (
    EventType(FABRIC_STATE_CHANGED, _("Hedgehog fabric state changed")),
    EventType(ALERT_OPENED, _("Hedgehog alert opened"), kind=EVENT_TYPE_KIND_DANGER),
    EventType(ALERT_RESOLVED, _("Hedgehog alert resolved"), kind=EVENT_TYPE_KIND_SUCCESS),
    EventType(SYNC_FINISHED, _("Hedgehog sync finished"), kind=EVENT_TYPE_KIND_INFO),
    EventType(RECONCILE_FINISHED, _("Hedgehog reconcile finished"), kind=EVENT_TYPE_KIND_INFO),
)


def register():
    for event_type in EVENT_TYPES:
        event_type.register()
