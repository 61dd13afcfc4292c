"""MaintenanceWindow: a planned period in which fabrics are in maintenance (the specification's
"maintenance scheduling"; Argo CD's sync windows play the same part)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from netbox.models import NetBoxModel

from ..state import machine as m


class MaintenanceWindow(NetBoxModel):
    name = models.CharField(verbose_name=_("name"), max_length=100)
    fabrics = models.ManyToManyField(
        to="netbox_hedgehog.HedgehogFabric", related_name="maintenance_windows", verbose_name=_("fabrics")
    )
    start = models.DateTimeField(verbose_name=_("start"))
    end = models.DateTimeField(verbose_name=_("end"))
    reason = models.CharField(
        verbose_name=_("reason"), max_length=1000, help_text=_("Kept in each fabric's history")
    )
    created_by = models.ForeignKey(
        to=settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
        verbose_name=_("created by"),
    )

    class Meta:
        ordering = ("start", "pk")
        verbose_name = _("maintenance window")
        verbose_name_plural = _("maintenance windows")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="netbox_hedgehog_window_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["start", "end"], name="nbhh_window_times")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("plugins:netbox_hedgehog:maintenancewindow", args=[self.pk])

    def clean(self):
        super().clean()
        if self.start and self.end:
            if self.end <= self.start:
                raise ValidationError({"end": _("The window must end after it starts.")})
            if self._state.adding and self.end <= timezone.now():
                raise ValidationError({"end": _("The window is entirely in the past: nothing would happen.")})

    def refused_fabrics(self, fabrics) -> list[str]:
        """Why each of these fabrics cannot be in this window (a fabric that can never enter maintenance)."""
        return [
            _("{fabric} is {status}: it cannot enter maintenance.").format(
                fabric=f, status=f.get_status_display()
            )
            for f in fabrics
            if f.status not in (m.ACTIVE, m.MAINTENANCE)
        ]

    def is_current(self, now=None) -> bool:
        now = now or timezone.now()
        return self.start <= now < self.end

    @property
    def when(self) -> str:
        """current, upcoming or past."""
        now = timezone.now()
        if self.end <= now:
            return "past"
        return "current" if self.start <= now else "upcoming"
