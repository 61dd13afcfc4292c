"""StateTransition: the history of a fabric's state, one row per change of one field."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from utilities.querysets import RestrictedQuerySet

from ..choices import FIELD_CHOICES, StateFieldChoices, TriggerChoices


class StateTransition(models.Model):
    """Written only by netbox_hedgehog.state.service; read-only everywhere else."""

    fabric = models.ForeignKey(
        to="netbox_hedgehog.HedgehogFabric",
        on_delete=models.CASCADE,
        related_name="state_transitions",
        verbose_name=_("fabric"),
    )
    field = models.CharField(verbose_name=_("field"), max_length=30, choices=StateFieldChoices)
    previous = models.CharField(
        verbose_name=_("previous state"),
        max_length=30,
        blank=True,
        help_text=_("Empty for the row written when the fabric was created"),
    )
    new = models.CharField(verbose_name=_("new state"), max_length=30)
    trigger = models.CharField(verbose_name=_("trigger"), max_length=30, choices=TriggerChoices)
    reason = models.TextField(verbose_name=_("reason"), blank=True)
    user = models.ForeignKey(
        to=settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("user"),
        help_text=_("Empty for system actions"),
    )
    job = models.ForeignKey(
        to="core.Job",
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("job"),
    )
    time = models.DateTimeField(verbose_name=_("time"), editable=False)
    routine = models.BooleanField(
        verbose_name=_("routine"),
        default=False,
        editable=False,
        help_text=_(
            "A health check that found nothing new (connected -> testing -> connected); hidden by default"
        ),
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("-time", "-pk")
        verbose_name = _("state transition")
        verbose_name_plural = _("state transitions")
        indexes = [
            # a fabric's history page: WHERE fabric_id = ? ORDER BY time DESC, id DESC LIMIT n
            models.Index(fields=["fabric", "-time", "-id"], name="nbhh_transition_fabric_time"),
            # the global list, newest first, and time-range filters
            models.Index(fields=["-time", "-id"], name="nbhh_transition_time"),
        ]

    def __str__(self):
        return f"{self.fabric}: {self.get_field_display().lower()} {self.previous or '-'} → {self.new}"

    def get_absolute_url(self):
        return reverse("plugins:netbox_hedgehog:statetransition", args=[self.pk])

    def _state_color(self, value):
        return FIELD_CHOICES[self.field].colors.get(value)

    def get_previous_color(self):
        return self._state_color(self.previous)

    def get_new_color(self):
        return self._state_color(self.new)

    def get_previous_display(self):
        return dict(FIELD_CHOICES[self.field]).get(self.previous, self.previous)

    def get_new_display(self):
        return dict(FIELD_CHOICES[self.field]).get(self.new, self.new)

    def get_trigger_color(self):
        return TriggerChoices.colors.get(self.trigger)
