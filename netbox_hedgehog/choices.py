"""Choice sets: the state values with their labels and colours, triggers and required actions."""

from django.utils.translation import gettext_lazy as _
from utilities.choices import ChoiceSet

from .state import machine as m


class FabricStatusChoices(ChoiceSet):
    """Lifecycle (`status`)."""

    CHOICES = [
        (m.PLANNED, _("Planned"), "cyan"),
        (m.ACTIVE, _("Active"), "green"),
        (m.MAINTENANCE, _("Maintenance"), "orange"),
        (m.DECOMMISSIONED, _("Decommissioned"), "gray"),
    ]


class ConnectionStatusChoices(ChoiceSet):
    """Connection to the cluster's Kubernetes API (`connection_status`)."""

    CHOICES = [
        (m.UNKNOWN, _("Unknown"), "gray"),
        (m.TESTING, _("Testing"), "blue"),
        (m.CONNECTED, _("Connected"), "green"),
        (m.FAILED, _("Failed"), "red"),
    ]


class SyncStatusChoices(ChoiceSet):
    """Synchronisation of the fabric's data with the cluster (`sync_status`)."""

    CHOICES = [
        (m.NEVER_SYNCED, _("Never synced"), "gray"),
        (m.SYNCING, _("Syncing"), "blue"),
        (m.IN_SYNC, _("In sync"), "green"),
        (m.OUT_OF_SYNC, _("Out of sync"), "yellow"),
        (m.ERROR, _("Error"), "red"),
    ]


FIELD_CHOICES = {
    m.STATUS: FabricStatusChoices,
    m.CONNECTION: ConnectionStatusChoices,
    m.SYNC: SyncStatusChoices,
}


class StateFieldChoices(ChoiceSet):
    CHOICES = [
        (m.STATUS, _("Lifecycle status")),
        (m.CONNECTION, _("Connection status")),
        (m.SYNC, _("Sync status")),
    ]


class TriggerChoices(ChoiceSet):
    """What caused a state transition."""

    CREATED = "created"
    MANUAL = "manual"
    EFFECT = "effect"
    CONNECTION_TEST = "connection_test"
    HEALTH_CHECK = "health_check"
    RETRY = "retry"
    KUBERNETES_ERROR = "kubernetes_error"
    SYNC = "sync"
    DRIFT = "drift"
    WATCH = "watch"
    RECONCILIATION = "reconciliation"
    REAPER = "reaper"

    CHOICES = [
        (CREATED, _("Created"), "gray"),
        (MANUAL, _("Manual"), "blue"),
        (EFFECT, _("Effect of another change"), "purple"),
        (CONNECTION_TEST, _("Connection test"), "cyan"),
        (HEALTH_CHECK, _("Health check"), "cyan"),
        (RETRY, _("Retry after a failure"), "cyan"),
        (KUBERNETES_ERROR, _("Kubernetes API error"), "red"),
        (SYNC, _("Sync"), "teal"),
        (DRIFT, _("Drift detected"), "yellow"),
        (WATCH, _("Watch event"), "teal"),
        (RECONCILIATION, _("Reconciliation"), "indigo"),
        (REAPER, _("Stale operation reaper"), "orange"),
    ]


ACTION_COLORS = {
    m.FORCE_VALIDATION: "red",
    m.CONNECTION_ALERT: "red",
    m.SUSPEND_OPERATIONS: "orange",
    m.CLEANUP_RESOURCES: "gray",
    m.TEST_CONNECTION: "blue",
    m.INITIAL_SYNC: "cyan",
    m.NORMAL_OPERATION: "green",
    m.TRIGGER_RECONCILIATION: "yellow",
    m.WAIT_FOR_TEST: "blue",
    m.WAIT_FOR_SYNC: "blue",
    m.RETRY_SYNC: "orange",
    m.ACTIVATE: "cyan",
}


class RequiredActionChoices(ChoiceSet):
    """What a fabric's combination of states asks of its operator (computed, never stored)."""

    CHOICES = [(code, label, ACTION_COLORS[code]) for code, label in m.ACTION_LABELS.items()]


class ResourceSyncStateChoices(ChoiceSet):
    """How one Hedgehog resource compares between NetBox (desired) and the cluster (actual)."""

    IN_SYNC = "in_sync"
    DRIFTED = "drifted"
    MISSING = "missing"
    EXTRA = "extra"
    ERROR = "error"

    CHOICES = [
        (IN_SYNC, _("In sync"), "green"),
        (DRIFTED, _("Drifted"), "yellow"),
        (MISSING, _("Missing from the cluster"), "orange"),
        (EXTRA, _("Only in the cluster"), "purple"),
        (ERROR, _("Error"), "red"),
    ]
