"""A dashboard widget: open alerts by severity and the fabrics they concern."""

from django.db.models import Count
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _
from extras.dashboard.utils import register_widget
from extras.dashboard.widgets import DashboardWidget

from .choices import AlertSeverityChoices
from .models import ReconciliationAlert
from .state import alerts as alert_rules


@register_widget
class OpenAlertsWidget(DashboardWidget):
    default_title = _("Hedgehog alerts")
    description = _("Open Hedgehog alerts by severity, and the fabrics they concern.")
    template_name = "netbox_hedgehog/dashboard/open_alerts.html"
    width = 4
    height = 3

    def render(self, request):
        if not request.user.has_perm("netbox_hedgehog.view_reconciliationalert"):
            return render_to_string(self.template_name, {"denied": True})
        open_alerts = ReconciliationAlert.objects.restrict(request.user, "view").filter(
            status__in=alert_rules.OPEN
        )
        counts = dict(open_alerts.values_list("severity").annotate(n=Count("pk")).order_by())
        severities = [
            (value, label, color, counts.get(value, 0))
            for value, label, color in AlertSeverityChoices.CHOICES
        ]
        fabrics = (
            open_alerts.values("fabric_id", "fabric__name")
            .annotate(n=Count("pk"))
            .order_by("-n", "fabric__name")[:8]
        )
        return render_to_string(
            self.template_name, {"severities": severities, "fabrics": fabrics, "total": sum(counts.values())}
        )
