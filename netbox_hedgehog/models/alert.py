"""ReconciliationAlert: a fabric (or one of its resources) in trouble, and what was done about it.

Opened, bumped and resolved by services.alerts (from the rules of state/alerts.py); acknowledged,
suppressed and resolved by people through jobs.resolve_alert and services.alerts. At most one alert
of a type is open per fabric and resource (a partial unique index): a recurrence bumps it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from netbox.models import NetBoxModel
from utilities.querysets import RestrictedQuerySet

from ..choices import AlertResolutionChoices, AlertSeverityChoices, AlertStatusChoices, AlertTypeChoices
from ..state import alerts as a


class ReconciliationAlert(NetBoxModel):
    fabric = models.ForeignKey(
        to="netbox_hedgehog.HedgehogFabric",
        on_delete=models.CASCADE,
        related_name="alerts",
        verbose_name=_("fabric"),
    )
    resource = models.ForeignKey(
        to="netbox_hedgehog.HedgehogResource",
        on_delete=models.CASCADE,
        related_name="alerts",
        null=True,
        blank=True,
        verbose_name=_("resource"),
        help_text=_("The resource it is about, when it is about one"),
    )
    type = models.CharField(verbose_name=_("type"), max_length=40, choices=AlertTypeChoices, editable=False)
    severity = models.CharField(
        verbose_name=_("severity"), max_length=10, choices=AlertSeverityChoices, editable=False
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=20,
        choices=AlertStatusChoices,
        default=a.ACTIVE,
        editable=False,
    )
    suppressed_until = models.DateTimeField(
        verbose_name=_("suppressed until"), null=True, blank=True, editable=False
    )
    message = models.TextField(verbose_name=_("message"), editable=False)
    suggested_action = models.TextField(verbose_name=_("suggested action"), blank=True, editable=False)
    first_seen = models.DateTimeField(verbose_name=_("first seen"), editable=False)
    last_seen = models.DateTimeField(verbose_name=_("last seen"), editable=False)
    occurrences = models.PositiveIntegerField(verbose_name=_("occurrences"), default=1, editable=False)
    acknowledged_by = models.ForeignKey(
        to=settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
        verbose_name=_("acknowledged by"),
    )
    acknowledged_at = models.DateTimeField(
        verbose_name=_("acknowledged"), null=True, blank=True, editable=False
    )
    resolved_by = models.ForeignKey(
        to=settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(verbose_name=_("resolved"), null=True, blank=True, editable=False)
    resolution = models.CharField(
        verbose_name=_("resolution"),
        max_length=20,
        choices=AlertResolutionChoices,
        blank=True,
        editable=False,
    )
    resolution_note = models.TextField(verbose_name=_("note"), blank=True, editable=False)
    follow_up = models.TextField(
        verbose_name=_("follow-up"),
        blank=True,
        editable=False,
        help_text=_("What resolving it by hand did (a connection test, a sync, a reconcile, a validation)"),
    )
    follow_up_job = models.ForeignKey(
        to="core.Job", on_delete=models.SET_NULL, related_name="+", null=True, blank=True, editable=False
    )

    clone_fields = ()

    class Meta:
        ordering = ("-last_seen", "-pk")
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        permissions = [
            ("acknowledge", "Acknowledge (or suppress) an alert"),
            ("resolve", "Resolve an alert by hand (its follow-up runs)"),
        ]
        constraints = [
            # one open alert per condition and object: a recurrence bumps it (services.alerts)
            models.UniqueConstraint(
                fields=("fabric", "type", "resource"),
                condition=Q(status__in=a.OPEN),
                nulls_distinct=False,
                name="netbox_hedgehog_alert_one_open",
            ),
            models.CheckConstraint(
                condition=Q(status__in=a.STATUSES), name="netbox_hedgehog_alert_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "severity"], name="nbhh_alert_status_severity"),
            models.Index(fields=["fabric", "status"], name="nbhh_alert_fabric_status"),
        ]

    def __str__(self):
        return f"{self.get_type_display()} #{self.pk}"

    def get_absolute_url(self):
        return reverse("plugins:netbox_hedgehog:reconciliationalert", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in a.OPEN

    @property
    def rule(self):
        return a.RULES.get(self.type)

    def get_type_color(self):
        return AlertTypeChoices.colors.get(self.type)

    def get_severity_color(self):
        return AlertSeverityChoices.colors.get(self.severity)

    def get_status_color(self):
        return AlertStatusChoices.colors.get(self.status)

    def get_resolution_color(self):
        return AlertResolutionChoices.colors.get(self.resolution)


class AlertStatusChange(models.Model):
    """One change of an alert's status (its own small table, state/alerts.py), with who and why."""

    alert = models.ForeignKey(
        to=ReconciliationAlert,
        on_delete=models.CASCADE,
        related_name="status_changes",
        verbose_name=_("alert"),
    )
    previous = models.CharField(verbose_name=_("from"), max_length=20, blank=True, choices=AlertStatusChoices)
    new = models.CharField(verbose_name=_("to"), max_length=20, choices=AlertStatusChoices)
    user = models.ForeignKey(
        to=settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", null=True, blank=True
    )
    note = models.TextField(verbose_name=_("note"), blank=True)
    time = models.DateTimeField(verbose_name=_("time"))

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("time", "pk")
        verbose_name = _("alert status change")
        verbose_name_plural = _("alert status changes")

    def __str__(self):
        return f"{self.alert}: {self.previous or '-'} → {self.new}"

    def get_previous_color(self):
        return AlertStatusChoices.colors.get(self.previous)

    def get_new_color(self):
        return AlertStatusChoices.colors.get(self.new)
