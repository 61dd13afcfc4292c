from datetime import timedelta

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from netbox.filtersets import BaseFilterSet, NetBoxModelFilterSet
from utilities.filtersets import register_filterset

from . import settings
from .choices import (
    AlertResolutionChoices,
    AlertSeverityChoices,
    AlertStatusChoices,
    AlertTypeChoices,
    AutoReconcileChoices,
    ConnectionStatusChoices,
    FabricStatusChoices,
    GitFailureCodeChoices,
    RequiredActionChoices,
    ResourceSyncStateChoices,
    StateFieldChoices,
    SwitchReadinessChoices,
    SyncStatusChoices,
    TriggerChoices,
)
from .models import (
    GitRepository,
    HedgehogFabric,
    HedgehogResource,
    MaintenanceWindow,
    ReconciliationAlert,
    StateTransition,
)
from .models.fabric import required_action_q
from .state import alerts as alert_rules
from .state import kinds, machine

__all__ = (
    "GitRepositoryFilterSet",
    "HedgehogFabricFilterSet",
    "HedgehogResourceFilterSet",
    "MaintenanceWindowFilterSet",
    "ReconciliationAlertFilterSet",
    "StateTransitionFilterSet",
)

# Every value a state field can hold, once ("" is the previous state of a creation row).
STATE_VALUES = [("", "(none)")] + [
    (value, value) for value in dict.fromkeys(v for field in machine.FIELDS for v in machine.VALUES[field])
]


@register_filterset
class HedgehogFabricFilterSet(NetBoxModelFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=FabricStatusChoices, distinct=False, null_value=None)
    connection_status = django_filters.MultipleChoiceFilter(
        choices=ConnectionStatusChoices, distinct=False, null_value=None
    )
    sync_status = django_filters.MultipleChoiceFilter(
        choices=SyncStatusChoices, distinct=False, null_value=None
    )
    required_action = django_filters.MultipleChoiceFilter(
        choices=RequiredActionChoices,
        method="filter_required_action",
        label=_("Required action"),
    )
    open_alert = django_filters.MultipleChoiceFilter(
        choices=AlertSeverityChoices,
        method="filter_open_alert",
        label=_("Open alert of severity"),
    )
    auto_reconcile = django_filters.MultipleChoiceFilter(
        choices=AutoReconcileChoices, distinct=False, null_value=None
    )
    maintenance_window_id = django_filters.ModelMultipleChoiceFilter(
        field_name="maintenance_windows",
        queryset=MaintenanceWindow.objects.all(),
        label=_("Maintenance window (ID)"),
    )
    # desired state from git (docs/git.md)
    git_repository_id = django_filters.ModelMultipleChoiceFilter(
        field_name="git_repository", queryset=GitRepository.objects.all(), label=_("Git repository (ID)")
    )

    class Meta:
        model = HedgehogFabric
        fields = (
            "id",
            "git_path",
            "name",
            "description",
            "status_changed",
            "connection_status_changed",
            "sync_status_changed",
            "last_validated",
            "last_sync",
            "connection_error_code",
            "connection_attempts",
            "next_connection_attempt",
            "kubernetes_server",
            "kubernetes_namespace",
            "kubernetes_verify_tls",
            "kubernetes_allow_http",
            "kubeconfig_context",
            "sync_interval",
            "connected_since",
            "sync_attempts",
            "next_sync_attempt",
            "auto_reconcile_prune",
            "last_auto_reconcile",
            "argocd_namespace",
            "argocd_application",
        )

    def search(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))

    def filter_open_alert(self, queryset, name, value):
        """Fabrics with an open alert of one of these severities."""
        if not value:
            return queryset
        q = Q(pk__in=[])
        for alert_type in alert_rules.TYPES:
            q |= Q(**{f"open_alerts__{alert_type}__in": list(value)})
        return queryset.filter(q)

    def filter_required_action(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(required_action_q(value))


class FabricFilterMixin(django_filters.FilterSet):
    """Filters by the fabric an object belongs to, by id or by name."""

    fabric_id = django_filters.ModelMultipleChoiceFilter(
        queryset=HedgehogFabric.objects.all(), distinct=False, label=_("Fabric (ID)")
    )
    fabric = django_filters.ModelMultipleChoiceFilter(
        field_name="fabric__name",
        queryset=HedgehogFabric.objects.all(),
        to_field_name="name",
        distinct=False,
        label=_("Fabric (name)"),
    )


ROUTINE_CHOICES = (
    ("hide", _("Hidden")),
    ("all", _("Shown")),
    ("only", _("Only them")),
    ("false", _("Hidden")),
    ("true", _("Only them")),
)


@register_filterset
class StateTransitionFilterSet(FabricFilterMixin, BaseFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    field = django_filters.MultipleChoiceFilter(choices=StateFieldChoices, distinct=False, null_value=None)
    trigger = django_filters.MultipleChoiceFilter(choices=TriggerChoices, distinct=False, null_value=None)
    user_id = django_filters.ModelMultipleChoiceFilter(
        queryset=get_user_model().objects.all(), distinct=False, label=_("User (ID)")
    )
    user = django_filters.ModelMultipleChoiceFilter(
        field_name="user__username",
        queryset=get_user_model().objects.all(),
        to_field_name="username",
        distinct=False,
        label=_("User (name)"),
    )
    # a state value of any of the three fields (an unknown one is a 400, as for NetBox's choices)
    previous = django_filters.MultipleChoiceFilter(choices=STATE_VALUES, distinct=False, null_value=None)
    new = django_filters.MultipleChoiceFilter(choices=STATE_VALUES, distinct=False, null_value=None)
    # time_after / time_before (ISO 8601), the time range of the transitions
    time = django_filters.DateTimeFromToRangeFilter()
    # health checks that found nothing new: the history pages hide them unless asked (views.py)
    routine = django_filters.ChoiceFilter(
        choices=ROUTINE_CHOICES, method="filter_routine", label=_("Routine health checks")
    )

    class Meta:
        model = StateTransition
        fields = ("id", "job_id")

    def filter_routine(self, queryset, name, value):
        if value in ("false", "hide"):
            return queryset.filter(routine=False)
        if value in ("true", "only"):
            return queryset.filter(routine=True)
        return queryset

    def search(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.filter(
            Q(fabric__name__icontains=value) | Q(reason__icontains=value) | Q(new__iexact=value)
        )


@register_filterset
class HedgehogResourceFilterSet(FabricFilterMixin, NetBoxModelFilterSet):
    kind = django_filters.MultipleChoiceFilter(
        choices=[(k.kind, k.kind) for k in kinds.ALL], distinct=False, null_value=None
    )
    sync_state = django_filters.MultipleChoiceFilter(
        choices=ResourceSyncStateChoices, distinct=False, null_value=None
    )

    # --- switch readiness (Agents only; docs/argocd.md)
    readiness = django_filters.MultipleChoiceFilter(
        choices=SwitchReadinessChoices, method="filter_readiness", label=_("Switch readiness")
    )

    class Meta:
        model = HedgehogResource
        fields = (
            "id",
            "api_group",
            "api_version",
            "plural",
            "namespace",
            "name",
            "uid",
            "resource_version",
            "generation",
            "first_seen",
            "last_seen",
            "sync_error",
            "apply_pending_since",
        )

    def search(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(kind__iexact=value) | Q(sync_error__icontains=value)
        )

    def filter_readiness(self, queryset, name, value):
        """Agents applied (no pending since), pending (a pending since kept by the store), or stale
        (no heartbeat, or one older than switch_stale_after: compared as RFC 3339 UTC text)."""
        if not value:
            return queryset
        limit = timezone.now() - timedelta(seconds=float(settings.get("switch_stale_after")))
        conditions = {
            SwitchReadinessChoices.APPLIED: Q(apply_pending_since__isnull=True),
            SwitchReadinessChoices.PENDING: Q(apply_pending_since__isnull=False),
            SwitchReadinessChoices.STALE: Q(heartbeat__isnull=True)
            | Q(heartbeat__lt=limit.strftime("%Y-%m-%dT%H:%M:%SZ")),
        }
        wanted = Q(pk__in=[])
        for choice in value:
            wanted |= conditions[choice]
        return (
            queryset.filter(kind="Agent", actual_spec__isnull=False)
            .alias(heartbeat=KT("actual_status__lastHeartbeat"))
            .filter(wanted)
        )


@register_filterset
class ReconciliationAlertFilterSet(FabricFilterMixin, NetBoxModelFilterSet):
    type = django_filters.MultipleChoiceFilter(choices=AlertTypeChoices, distinct=False, null_value=None)
    severity = django_filters.MultipleChoiceFilter(
        choices=AlertSeverityChoices, distinct=False, null_value=None
    )
    status = django_filters.MultipleChoiceFilter(choices=AlertStatusChoices, distinct=False, null_value=None)
    resolution = django_filters.MultipleChoiceFilter(
        choices=AlertResolutionChoices, distinct=False, null_value=None
    )
    is_open = django_filters.BooleanFilter(
        method="filter_is_open", label=_("Open (active, acknowledged or suppressed)")
    )
    resource_id = django_filters.ModelMultipleChoiceFilter(
        queryset=HedgehogResource.objects.all(), distinct=False, label=_("Resource (ID)")
    )
    # first_seen_after / _before, last_seen_after / _before (ISO 8601)
    first_seen = django_filters.DateTimeFromToRangeFilter()
    last_seen = django_filters.DateTimeFromToRangeFilter()

    class Meta:
        model = ReconciliationAlert
        fields = ("id", "occurrences", "resolved_at", "acknowledged_at")

    def filter_is_open(self, queryset, name, value):
        if value is None:
            return queryset
        return (
            queryset.filter(status__in=alert_rules.OPEN)
            if value
            else queryset.exclude(status__in=alert_rules.OPEN)
        )

    def search(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.filter(
            Q(fabric__name__icontains=value)
            | Q(message__icontains=value)
            | Q(resource__name__icontains=value)
        )


@register_filterset
class MaintenanceWindowFilterSet(NetBoxModelFilterSet):
    fabric_id = django_filters.ModelMultipleChoiceFilter(
        field_name="fabrics", queryset=HedgehogFabric.objects.all(), label=_("Fabric (ID)")
    )
    fabric = django_filters.ModelMultipleChoiceFilter(
        field_name="fabrics__name",
        queryset=HedgehogFabric.objects.all(),
        to_field_name="name",
        label=_("Fabric (name)"),
    )
    # start_after / start_before, end_after / end_before (ISO 8601)
    start = django_filters.DateTimeFromToRangeFilter()
    end = django_filters.DateTimeFromToRangeFilter()
    when = django_filters.ChoiceFilter(
        choices=(("current", _("Current")), ("upcoming", _("Upcoming")), ("past", _("Past"))),
        method="filter_when",
        label=_("When"),
    )
    created_by_id = django_filters.ModelMultipleChoiceFilter(
        queryset=get_user_model().objects.all(), distinct=False, label=_("Created by (ID)")
    )

    class Meta:
        model = MaintenanceWindow
        fields = ("id", "name", "reason")

    def filter_when(self, queryset, name, value):
        now = timezone.now()
        if value == "current":
            return queryset.filter(start__lte=now, end__gt=now)
        if value == "upcoming":
            return queryset.filter(start__gt=now)
        if value == "past":
            return queryset.filter(end__lte=now)
        return queryset

    def search(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(reason__icontains=value))


# --- git repositories (docs/git.md) ----------------------------------------------------------------


@register_filterset
class GitRepositoryFilterSet(NetBoxModelFilterSet):
    connection_status = django_filters.MultipleChoiceFilter(
        choices=ConnectionStatusChoices, distinct=False, null_value=None
    )
    connection_error_code = django_filters.MultipleChoiceFilter(
        choices=GitFailureCodeChoices, distinct=False, null_value=None
    )

    class Meta:
        model = GitRepository
        fields = ("id", "name", "remote_url", "branch", "username", "head_commit")

    def search(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(remote_url__icontains=value)
            | Q(description__icontains=value)
            | Q(branch__icontains=value)
        )
