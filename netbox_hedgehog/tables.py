import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from netbox.tables import NetBoxTable, columns

from . import settings
from .models import (
    GitRepository,
    GitRepositoryTransition,
    HedgehogFabric,
    HedgehogResource,
    MaintenanceWindow,
    ReconciliationAlert,
    StateTransition,
)

__all__ = (
    "HedgehogFabricTable",
    "HedgehogResourceDeleteTable",
    "HedgehogResourceTable",
    "MaintenanceWindowTable",
    "ReconciliationAlertTable",
    "StateTransitionTable",
)


class HedgehogFabricTable(NetBoxTable):
    name = tables.Column(verbose_name=_("Name"), linkify=True)
    status = columns.ChoiceFieldColumn(verbose_name=_("Status"))
    connection_status = columns.ChoiceFieldColumn(verbose_name=_("Connection"))
    sync_status = columns.ChoiceFieldColumn(verbose_name=_("Sync"))
    required_action = columns.ChoiceFieldColumn(
        verbose_name=_("Required action"), accessor="get_required_action_display", orderable=False
    )
    # named after the fabric's own field: a column named like a relation makes NetBox prefetch it
    open_alerts = columns.TemplateColumn(
        verbose_name=_("Alerts"),
        template_code=(
            "{% load helpers %}{% with record.highest_open_alert as severity %}{% if severity %}"
            "<a href=\"{% url 'plugins:netbox_hedgehog:reconciliationalert_list' %}?fabric_id={{ record.pk }}&is_open=true\">"
            "{% badge record.open_alerts|length bg_color=record.get_open_alert_color %}</a>"
            '{% else %}<span class="text-muted">&mdash;</span>{% endif %}{% endwith %}'
        ),
        orderable=False,
    )
    status_changed = columns.DateTimeColumn(verbose_name=_("Status changed"), timespec="minutes")
    last_validated = columns.DateTimeColumn(verbose_name=_("Last validated"), timespec="minutes")
    last_sync = columns.DateTimeColumn(verbose_name=_("Last sync"), timespec="minutes")
    connection_error = tables.Column(verbose_name=_("Connection error"))
    sync_error = tables.Column(verbose_name=_("Sync error"))
    comments = columns.MarkdownColumn(verbose_name=_("Comments"))
    tags = columns.TagColumn(url_name="plugins:netbox_hedgehog:hedgehogfabric_list")
    # Argo CD and switch readiness (docs/argocd.md)
    switch_readiness = tables.Column(verbose_name=_("Ready"), orderable=False, empty_values=())
    argocd = tables.Column(verbose_name=_("Argo CD"), orderable=False, empty_values=())

    class Meta(NetBoxTable.Meta):
        model = HedgehogFabric
        fields = (
            "pk",
            "id",
            "name",
            "description",
            "status",
            "connection_status",
            "sync_status",
            "required_action",
            "open_alerts",
            "status_changed",
            "last_validated",
            "connection_error",
            "last_sync",
            "sync_error",
            "switch_readiness",
            "argocd",
            "comments",
            "tags",
            "created",
            "last_updated",
            "actions",
        )
        default_columns = (
            "pk",
            "name",
            "status",
            "connection_status",
            "sync_status",
            "required_action",
            "open_alerts",
            "description",
        )

    def render_switch_readiness(self, record):
        ready = record.readiness
        if not ready.total:
            return "—"
        color = "green" if ready.applied == ready.total else "yellow"
        return format_html('<span class="badge text-bg-{}">{}/{}</span>', color, ready.applied, ready.total)

    def render_argocd(self, record):
        app = record.argocd
        if app.presence != "found":
            return app.presence.replace("_", " ")
        return f"{app.sync_status or '?'}, {app.health_status or '?'}"


class StateTransitionTable(NetBoxTable):
    time = columns.DateTimeColumn(
        verbose_name=_("Time"), timespec="seconds", linkify=True, attrs={"td": {"class": "text-nowrap"}}
    )
    fabric = tables.Column(verbose_name=_("Fabric"), linkify=True, attrs={"td": {"class": "text-nowrap"}})
    field = columns.ChoiceFieldColumn(verbose_name=_("Field"))
    previous = columns.ChoiceFieldColumn(
        verbose_name=_("From"), accessor="get_previous_display", order_by=("previous",)
    )
    new = columns.ChoiceFieldColumn(verbose_name=_("To"), accessor="get_new_display", order_by=("new",))
    trigger = columns.ChoiceFieldColumn(verbose_name=_("Trigger"))
    reason = tables.Column(verbose_name=_("Reason"))
    user = tables.Column(verbose_name=_("User"), default=_("system"))
    job = tables.Column(verbose_name=_("Job"), linkify=True)
    routine = columns.BooleanColumn(verbose_name=_("Routine"))
    actions = columns.ActionsColumn(actions=(), orderable=False)

    class Meta(NetBoxTable.Meta):
        model = StateTransition
        fields = (
            "pk",
            "id",
            "time",
            "fabric",
            "field",
            "previous",
            "new",
            "trigger",
            "reason",
            "user",
            "job",
            "routine",
        )
        default_columns = ("time", "fabric", "field", "previous", "new", "trigger", "reason", "user")


class HedgehogResourceTable(NetBoxTable):
    name = tables.Column(verbose_name=_("Name"), linkify=True)
    fabric = tables.Column(verbose_name=_("Fabric"), linkify=True)
    kind = tables.Column(verbose_name=_("Kind"))
    sync_state = columns.ChoiceFieldColumn(verbose_name=_("Sync state"))
    differences = tables.Column(
        verbose_name=_("Differences"), accessor="diff", orderable=False, empty_values=()
    )
    applied = columns.BooleanColumn(verbose_name=_("Applied"), orderable=False)
    last_seen = columns.DateTimeColumn(verbose_name=_("Last changed"), timespec="minutes")
    tags = columns.TagColumn(url_name="plugins:netbox_hedgehog:hedgehogresource_list")

    class Meta(NetBoxTable.Meta):
        model = HedgehogResource
        fields = (
            "pk",
            "id",
            "fabric",
            "api_group",
            "api_version",
            "kind",
            "namespace",
            "name",
            "sync_state",
            "differences",
            "applied",
            "generation",
            "resource_version",
            "uid",
            "first_seen",
            "last_seen",
            "sync_error",
            "tags",
            "created",
            "last_updated",
            "actions",
        )
        default_columns = (
            "pk",
            "fabric",
            "kind",
            "namespace",
            "name",
            "sync_state",
            "differences",
            "last_seen",
        )

    def render_differences(self, value):
        return len(value or []) or "—"


class ReconciliationAlertTable(NetBoxTable):
    id = tables.Column(verbose_name=_("ID"), linkify=True)
    fabric = tables.Column(verbose_name=_("Fabric"), linkify=True, attrs={"td": {"class": "text-nowrap"}})
    resource = tables.Column(verbose_name=_("Resource"), linkify=True)
    type = columns.ChoiceFieldColumn(verbose_name=_("Type"))
    severity = columns.ChoiceFieldColumn(verbose_name=_("Severity"))
    status = columns.ChoiceFieldColumn(verbose_name=_("Status"))
    message = tables.Column(verbose_name=_("Message"))
    occurrences = tables.Column(verbose_name=_("Occurrences"))
    first_seen = columns.DateTimeColumn(verbose_name=_("First seen"), timespec="minutes")
    last_seen = columns.DateTimeColumn(verbose_name=_("Last seen"), timespec="minutes")
    resolution = columns.ChoiceFieldColumn(verbose_name=_("Resolution"))
    resolved_at = columns.DateTimeColumn(verbose_name=_("Resolved"), timespec="minutes")
    follow_up = tables.Column(verbose_name=_("Follow-up"))
    tags = columns.TagColumn(url_name="plugins:netbox_hedgehog:reconciliationalert_list")
    actions = columns.ActionsColumn(actions=("delete",))

    class Meta(NetBoxTable.Meta):
        model = ReconciliationAlert
        fields = (
            "pk",
            "id",
            "fabric",
            "resource",
            "type",
            "severity",
            "status",
            "message",
            "occurrences",
            "first_seen",
            "last_seen",
            "resolution",
            "resolved_at",
            "follow_up",
            "tags",
            "created",
            "last_updated",
            "actions",
        )
        default_columns = (
            "pk",
            "id",
            "fabric",
            "type",
            "severity",
            "status",
            "message",
            "occurrences",
            "last_seen",
        )


class MaintenanceWindowTable(NetBoxTable):
    name = tables.Column(verbose_name=_("Name"), linkify=True)
    fabrics = columns.ManyToManyColumn(verbose_name=_("Fabrics"), linkify_item=True)
    start = columns.DateTimeColumn(verbose_name=_("Start"), timespec="minutes")
    end = columns.DateTimeColumn(verbose_name=_("End"), timespec="minutes")
    when = columns.TemplateColumn(
        verbose_name=_("When"),
        template_code=(
            "{% load helpers %}{% with record.when as when %}"
            "{% if when == 'current' %}{% badge 'Current' bg_color='orange' %}"
            "{% elif when == 'upcoming' %}{% badge 'Upcoming' bg_color='blue' %}"
            "{% else %}{% badge 'Past' bg_color='gray' %}{% endif %}{% endwith %}"
        ),
        orderable=False,
    )
    reason = tables.Column(verbose_name=_("Reason"))
    created_by = tables.Column(verbose_name=_("Created by"))
    tags = columns.TagColumn(url_name="plugins:netbox_hedgehog:maintenancewindow_list")

    class Meta(NetBoxTable.Meta):
        model = MaintenanceWindow
        fields = (
            "pk",
            "id",
            "name",
            "fabrics",
            "start",
            "end",
            "when",
            "reason",
            "created_by",
            "tags",
            "created",
            "last_updated",
            "actions",
        )
        default_columns = ("pk", "name", "fabrics", "start", "end", "when", "reason")


class HedgehogResourceDeleteTable(NetBoxTable):
    """The resources a bulk delete is about to remove: plain text, no links (thousands of rows)."""

    fabric = tables.Column(verbose_name=_("Fabric"), accessor="fabric__name")
    kind = tables.Column(verbose_name=_("Kind"))
    namespace = tables.Column(verbose_name=_("Namespace"))
    name = tables.Column(verbose_name=_("Name"))
    sync_state = columns.ChoiceFieldColumn(verbose_name=_("Sync state"))

    class Meta(NetBoxTable.Meta):
        model = HedgehogResource
        fields = ("fabric", "kind", "namespace", "name", "sync_state")
        default_columns = fields
        exclude = ("actions", "pk", "id")


# --- switch readiness (the switches' list, docs/argocd.md) -------------------------------------------


class SwitchTable(NetBoxTable):
    """One row per switch (its Agent): applied, heartbeat age, versions, reboot, the Applied condition."""

    name = tables.Column(verbose_name=_("Switch"), linkify=True)
    fabric = tables.Column(verbose_name=_("Fabric"), linkify=True)
    applied = columns.BooleanColumn(verbose_name=_("Applied"), orderable=False)
    generation = tables.Column(verbose_name=_("Generation"))
    applied_generation = tables.Column(
        verbose_name=_("Applied generation"), accessor="actual_status__lastAppliedGen", orderable=False
    )
    pending_since = columns.DateTimeColumn(
        verbose_name=_("Pending since"), accessor="apply_pending_since", timespec="seconds"
    )
    heartbeat = tables.Column(
        verbose_name=_("Heartbeat"), accessor="actual_status__lastHeartbeat", orderable=False, empty_values=()
    )
    version = tables.Column(
        verbose_name=_("Agent version"), accessor="actual_status__version", orderable=False
    )
    software = tables.Column(
        verbose_name=_("Software"), accessor="actual_status__state__nos__softwareVersion", orderable=False
    )
    reboot_required = columns.BooleanColumn(verbose_name=_("Reboot required"), orderable=False)
    applied_reason = tables.Column(
        verbose_name=_("Applied reason"), accessor="switch__applied_reason", orderable=False
    )
    applied_message = tables.Column(
        verbose_name=_("Applied message"), accessor="switch__applied_message", orderable=False
    )

    class Meta(NetBoxTable.Meta):
        model = HedgehogResource
        fields = (
            "pk",
            "id",
            "fabric",
            "name",
            "applied",
            "generation",
            "applied_generation",
            "pending_since",
            "heartbeat",
            "version",
            "software",
            "reboot_required",
            "applied_reason",
            "applied_message",
            "last_seen",
        )
        default_columns = (
            "fabric",
            "name",
            "applied",
            "generation",
            "applied_generation",
            "heartbeat",
            "version",
            "software",
            "reboot_required",
            "applied_reason",
            "applied_message",
        )

    def render_heartbeat(self, record):
        """The heartbeat's age (stale past switch_stale_after, in orange), its time on hover."""
        switch = record.switch
        age = switch.heartbeat_age(timezone.now()) if switch else None
        if age is None:
            return format_html('<span class="badge text-bg-orange">{}</span>', _("none"))
        said = (
            _("{seconds} s ago").format(seconds=int(age))
            if age < 120
            else _("{minutes} min ago").format(minutes=int(age // 60))
        )
        if age > float(settings.get("switch_stale_after")):
            return format_html(
                '<span class="badge text-bg-orange" title="{}">{} ({})</span>',
                switch.heartbeat.isoformat(),
                said,
                _("stale"),
            )
        return format_html('<span title="{}">{}</span>', switch.heartbeat.isoformat(), said)


# --- git repositories (docs/git.md) ----------------------------------------------------------------


class GitRepositoryTable(NetBoxTable):
    name = tables.Column(verbose_name=_("Name"), linkify=True)
    remote_url = tables.Column(verbose_name=_("URL"))
    branch = tables.Column(verbose_name=_("Branch"))
    connection_status = columns.ChoiceFieldColumn(verbose_name=_("Connection"))
    connection_error_code = columns.ChoiceFieldColumn(verbose_name=_("Failure reason"))
    last_validated = columns.DateTimeColumn(verbose_name=_("Last validated"), timespec="seconds")
    head_commit = tables.Column(verbose_name=_("Head commit"))
    tags = columns.TagColumn(url_name="plugins:netbox_hedgehog:gitrepository_list")

    class Meta(NetBoxTable.Meta):
        model = GitRepository
        fields = (
            "pk", "id", "name", "remote_url", "branch", "username", "connection_status", "connection_error_code",
            "connection_error", "last_validated", "head_commit", "head_commit_seen", "description", "tags",
            "created", "last_updated",
        )  # fmt: skip
        default_columns = (
            "name",
            "remote_url",
            "branch",
            "connection_status",
            "last_validated",
            "head_commit",
        )


class GitRepositoryTransitionTable(NetBoxTable):
    time = columns.DateTimeColumn(verbose_name=_("Time"), timespec="seconds")
    previous = tables.TemplateColumn(
        verbose_name=_("From"),
        template_code="{% load helpers %}{% if record.previous %}{% badge record.previous bg_color=record.get_previous_color %}{% endif %}",
    )
    new = tables.TemplateColumn(
        verbose_name=_("To"),
        template_code="{% load helpers %}{% badge record.new bg_color=record.get_new_color %}",
    )
    trigger = columns.ChoiceFieldColumn(verbose_name=_("Trigger"))
    reason = tables.Column(verbose_name=_("Reason"))
    user = tables.Column(verbose_name=_("User"))
    job = tables.Column(verbose_name=_("Job"), linkify=True)
    actions = columns.ActionsColumn(actions=())

    class Meta(NetBoxTable.Meta):
        model = GitRepositoryTransition
        fields = ("time", "previous", "new", "trigger", "reason", "user", "job")
        default_columns = fields
