"""HedgehogFabric: one Hedgehog fabric (a Kubernetes cluster) and its three state dimensions."""

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from netbox.models import NetBoxModel
from netbox.models.features import JobsMixin

from ..choices import (
    ConnectionStatusChoices,
    FabricStatusChoices,
    RequiredActionChoices,
    SyncStatusChoices,
)
from ..state import machine as m

# Fields written only by netbox_hedgehog.state.service; a plain save() never writes them, so an edit
# of the description can never undo a state change made meanwhile by a job.
STATE_OWNED_FIELDS = (
    m.STATUS,
    m.CONNECTION,
    m.SYNC,
    "status_changed",
    "connection_status_changed",
    "sync_status_changed",
    "last_validated",
    "connection_error",
    "last_sync",
    "sync_error",
)

# How each fact of machine.State reads in the database, for CHECK constraints built from the rules.
FACT_IS_SET = {
    "has_connection_error": ~Q(connection_error=""),
    "has_last_validated": Q(last_validated__isnull=False),
    "has_sync_error": ~Q(sync_error=""),
    "has_last_sync": Q(last_sync__isnull=False),
}


def _rule_condition(rule):
    """The Q that holds exactly when a fabric row breaks `rule`."""
    q = Q()
    for attr, values in rule.forbidden.items():
        if attr in FACT_IS_SET:
            (value,) = values
            q &= FACT_IS_SET[attr] if value else ~FACT_IS_SET[attr]
        else:
            q &= Q(**{f"{attr}__in": list(values)})
    return q


def _constraints():
    constraints = [
        models.CheckConstraint(
            condition=Q(**{f"{field}__in": list(m.VALUES[field])}),
            name=f"netbox_hedgehog_fabric_{field}_valid",
            violation_error_message=f"Unknown {field} value.",
        )
        for field in m.FIELDS
    ]
    constraints += [
        models.CheckConstraint(
            condition=~_rule_condition(rule),
            name=f"netbox_hedgehog_fabric_{rule.code}",
            violation_error_message=rule.message,
        )
        for rule in m.RULES
    ]
    return constraints


class HedgehogFabric(JobsMixin, NetBoxModel):
    name = models.CharField(verbose_name=_("name"), max_length=100, unique=True)
    description = models.CharField(verbose_name=_("description"), max_length=200, blank=True)
    comments = models.TextField(verbose_name=_("comments"), blank=True)

    status = models.CharField(
        verbose_name=_("status"),
        max_length=30,
        choices=FabricStatusChoices,
        default=m.INITIAL[m.STATUS],
        editable=False,
        help_text=_("Lifecycle; changed only through the allowed transitions"),
    )
    connection_status = models.CharField(
        verbose_name=_("connection status"),
        max_length=30,
        choices=ConnectionStatusChoices,
        default=m.INITIAL[m.CONNECTION],
        editable=False,
    )
    sync_status = models.CharField(
        verbose_name=_("sync status"),
        max_length=30,
        choices=SyncStatusChoices,
        default=m.INITIAL[m.SYNC],
        editable=False,
    )
    status_changed = models.DateTimeField(verbose_name=_("status changed"), null=True, editable=False)
    connection_status_changed = models.DateTimeField(
        verbose_name=_("connection status changed"), null=True, editable=False
    )
    sync_status_changed = models.DateTimeField(
        verbose_name=_("sync status changed"), null=True, editable=False
    )
    last_validated = models.DateTimeField(
        verbose_name=_("last validated"),
        null=True,
        editable=False,
        help_text=_("Time of the last successful connection test"),
    )
    connection_error = models.TextField(verbose_name=_("connection error"), blank=True, editable=False)
    last_sync = models.DateTimeField(
        verbose_name=_("last sync"),
        null=True,
        editable=False,
        help_text=_("Time of the last successful sync"),
    )
    sync_error = models.TextField(verbose_name=_("sync error"), blank=True, editable=False)

    clone_fields = ("description",)

    class Meta:
        ordering = ("name",)
        verbose_name = _("fabric")
        verbose_name_plural = _("fabrics")
        constraints = _constraints()
        indexes = [
            models.Index(fields=["status", "connection_status", "sync_status"], name="nbhh_fabric_states"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("plugins:netbox_hedgehog:hedgehogfabric", args=[self.pk])

    def save(self, *args, **kwargs):
        from ..state import service

        if self._state.adding:
            service.prepare_new_fabric(self)
            super().save(*args, **kwargs)
            service.record_creation(self)
            return
        if kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.attname
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in STATE_OWNED_FIELDS
            ]
            # Show the stored state (not a stale copy) in the change log of this save.
            service.reload_state(self)
        super().save(*args, **kwargs)

    # --- colours for the badges

    def get_status_color(self):
        return FabricStatusChoices.colors.get(self.status)

    def get_connection_status_color(self):
        return ConnectionStatusChoices.colors.get(self.connection_status)

    def get_sync_status_color(self):
        return SyncStatusChoices.colors.get(self.sync_status)

    # --- the state seen by the machine

    @property
    def state(self) -> m.State:
        return m.State(
            status=self.status,
            connection_status=self.connection_status,
            sync_status=self.sync_status,
            has_connection_error=bool(self.connection_error),
            has_last_validated=self.last_validated is not None,
            has_sync_error=bool(self.sync_error),
            has_last_sync=self.last_sync is not None,
        )

    @property
    def required_action(self) -> str:
        return m.required_action(self.status, self.connection_status, self.sync_status)

    def get_required_action_display(self):
        return dict(RequiredActionChoices)[self.required_action]

    def get_required_action_color(self):
        return RequiredActionChoices.colors.get(self.required_action)

    @property
    def state_problems(self) -> list[tuple[str, str]]:
        return m.problems(self.state)

    def available_transitions(self, field=m.STATUS) -> tuple[str, ...]:
        return m.available_transitions(self.state, field)
