"""NetBox custom scripts shipped with the plugin, built only on its public Python API
(services.state.transition, services.alerts, jobs.request_*).

NetBox 4.7 loads scripts from modules in SCRIPTS_ROOT (or a data source); a plugin cannot register
them itself. `netbox hedgehog_install_scripts` writes a one-line module there that imports these
and registers it (docs/scripts.md). Each script logs what it did per fabric, readable in the
script's job result.
"""

from django.utils.translation import gettext_lazy as _
from extras.scripts import BooleanVar, ChoiceVar, MultiObjectVar, Script, StringVar

from .jobs import request_sync, request_test
from .models import HedgehogFabric
from .services import alerts
from .services.state import InvalidTransition, force_validation, transition, validate
from .state import machine as m

__all__ = ("AuditFabricStates", "BulkMaintenance", "RetryFailedFabrics")

GROUP = "Hedgehog"


class AuditFabricStates(Script):
    """Validate every fabric's state, open (or resolve) its alerts, and optionally force a validation."""

    class Meta:
        name = "Audit fabric states"
        description = "Validate every fabric, open alerts for problems, optionally force validation"
        group = GROUP
        commit_default = True

    force = BooleanVar(
        label=_("Force validation"),
        required=False,
        description=_("Correct inconsistent states where the transition tables allow"),
    )

    def run(self, data, commit):
        problems = 0
        for fabric in HedgehogFabric.objects.order_by("name"):
            found = validate(fabric)
            holds = alerts.audit(fabric, user=self.request.user if self.request else None)
            open_types = [t for t, on in holds.items() if on]
            if found:
                problems += 1
                self.log_failure(f"{fabric}: {' '.join(found)}", obj=fabric)
                if data.get("force"):
                    for line in force_validation(fabric):
                        self.log_info(f"{fabric}: {line}", obj=fabric)
            elif open_types:
                self.log_warning(f"{fabric}: {', '.join(open_types)} (alert open)", obj=fabric)
            else:
                self.log_success(f"{fabric}: consistent, {fabric.get_required_action_display()}", obj=fabric)
        return f"{HedgehogFabric.objects.count()} fabric(s) audited, {problems} inconsistent."


class BulkMaintenance(Script):
    """Selected fabrics enter or leave maintenance, with a reason kept in their history."""

    class Meta:
        name = "Bulk maintenance"
        description = "Selected fabrics enter or leave maintenance with a reason"
        group = GROUP
        commit_default = True

    fabrics = MultiObjectVar(model=HedgehogFabric, label=_("Fabrics"))
    direction = ChoiceVar(
        choices=(("enter", _("Enter maintenance")), ("leave", _("Leave maintenance (back to active)"))),
        label=_("Direction"),
    )
    reason = StringVar(label=_("Reason"), max_length=1000)

    def run(self, data, commit):
        to = m.MAINTENANCE if data["direction"] == "enter" else m.ACTIVE
        user = self.request.user if self.request else None
        moved = 0
        for fabric in data["fabrics"]:
            try:
                transition(fabric, m.STATUS, to, reason=data["reason"], user=user)
            except InvalidTransition as exc:
                self.log_failure(f"{fabric}: {exc.message}", obj=fabric)
                continue
            moved += 1
            self.log_success(f"{fabric}: now {fabric.get_status_display()}", obj=fabric)
        return f"{moved} of {len(data['fabrics'])} fabric(s) now {to}."


class RetryFailedFabrics(Script):
    """Queue connection tests for fabrics whose connection failed, and syncs for those in error."""

    class Meta:
        name = "Retry failed fabrics"
        description = "Queue connection tests and syncs for fabrics that failed or are in error"
        group = GROUP
        commit_default = True

    def run(self, data, commit):
        user = self.request.user if self.request else None
        queued = 0
        for fabric in HedgehogFabric.objects.filter(status__in=(m.PLANNED, m.ACTIVE)).order_by("name"):
            try:
                if fabric.connection_status == m.FAILED:
                    job, created = request_test(fabric, user=user, reason="Retry failed fabrics (script)")
                    self.log_success(
                        f"{fabric}: connection test {'queued' if created else 'already queued'} (job #{job.pk})",
                        obj=fabric,
                    )
                    queued += created
                elif fabric.sync_status == m.ERROR:
                    job, created = request_sync(fabric, user=user, reason="Retry failed fabrics (script)")
                    self.log_success(
                        f"{fabric}: sync {'queued' if created else 'already queued'} (job #{job.pk})",
                        obj=fabric,
                    )
                    queued += created
            except InvalidTransition as exc:
                self.log_warning(f"{fabric}: not retried: {exc.message}", obj=fabric)
        return f"{queued} job(s) queued."
