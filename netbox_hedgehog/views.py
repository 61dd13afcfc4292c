from contextlib import ExitStack

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import format_html
from django.utils.translation import gettext as _
from extras.ui.panels import CustomFieldsPanel, TagsPanel
from netbox.object_actions import AddObject, BulkDelete, BulkEdit, BulkExport, BulkImport, ObjectAction
from netbox.ui import layout
from netbox.ui.panels import CommentsPanel, ObjectsTablePanel
from netbox.views import generic
from netbox.views.generic.base import BaseObjectView
from redis.exceptions import RedisError
from utilities.views import GetReturnURLMixin, register_model_view

from . import filtersets, forms, tables
from .choices import FabricStatusChoices, ReconcileActionChoices, ReconcileDirectionChoices
from .jobs import fabric_deletion, request_reconcile, request_sync, request_test
from .kube.errors import KubeFailure
from .models import HedgehogFabric, StateTransition
from .services import deletion, reconcile
from .services.state import InvalidTransition, transition
from .state import machine
from .ui import panels

#
# Fabrics
#


class BulkTransition(ObjectAction):
    name = "bulk_transition"
    label = _("Change Lifecycle")
    multi = True
    permissions_required = {"change"}
    template_name = "netbox_hedgehog/buttons/bulk_transition.html"


@register_model_view(HedgehogFabric, "list", path="", detail=False)
class HedgehogFabricListView(generic.ObjectListView):
    queryset = HedgehogFabric.objects.prefetch_related("tags")
    filterset = filtersets.HedgehogFabricFilterSet
    filterset_form = forms.HedgehogFabricFilterForm
    table = tables.HedgehogFabricTable
    actions = (AddObject, BulkImport, BulkExport, BulkTransition, BulkEdit, BulkDelete)


@register_model_view(HedgehogFabric, "bulk_transition", path="transition", detail=False)
class HedgehogFabricBulkTransitionView(GetReturnURLMixin, BaseObjectView):
    """Move the lifecycle of the selected fabrics, each through the state service (a fabric its table
    refuses is left as it is and named). Needs the change permission (object constraints apply)."""

    queryset = HedgehogFabric.objects.all()
    template_name = "netbox_hedgehog/bulk_transition.html"

    def get_required_permission(self):
        return "netbox_hedgehog.change_hedgehogfabric"

    def get(self, request):
        return redirect(self.get_return_url(request))

    def post(self, request):
        pks = [pk for pk in request.POST.getlist("pk") if str(pk).isdigit()]
        fabrics = list(self.queryset.filter(pk__in=pks).order_by("name"))
        return_url = self.get_return_url(request)
        if not fabrics:
            messages.warning(request, _("No fabric selected."))
            return redirect(return_url)
        form = forms.BulkLifecycleTransitionForm(request.POST if "_apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            target = form.cleaned_data["status"]
            if target == machine.DECOMMISSIONED and not form.cleaned_data["confirm_decommission"]:
                messages.error(request, _("Decommissioning is final: tick the confirmation to decommission."))
            else:
                self.apply(request, fabrics, target, form.cleaned_data["reason"])
                return redirect(return_url)
        rows = [(f, [dict(FabricStatusChoices)[v] for v in f.available_transitions()]) for f in fabrics]
        context = {"fabrics": rows, "form": form, "return_url": return_url}
        return render(request, self.template_name, context)

    def apply(self, request, fabrics, target, reason):
        done, refused = [], []
        for fabric in fabrics:
            if fabric.status == target:
                continue
            try:
                with transaction.atomic():
                    transition(fabric, machine.STATUS, target, user=request.user, reason=reason)
                    if not self.queryset.filter(pk=fabric.pk).exists():
                        raise PermissionError
            except InvalidTransition as exc:
                refused.append(f"{fabric}: {exc.message}")
            except PermissionError:
                refused.append(_("{fabric}: your permissions do not allow it.").format(fabric=fabric))
            else:
                done.append(fabric)
        label = dict(FabricStatusChoices)[target]
        messages.success(request, _("{n} fabric(s) now {status}.").format(n=len(done), status=label))
        if refused:
            messages.warning(request, _("Left as they were: ") + " ".join(refused))


@register_model_view(HedgehogFabric)
class HedgehogFabricView(generic.ObjectView):
    queryset = HedgehogFabric.objects.all()
    template_name = "generic/object.html"
    layout = layout.SimpleLayout(
        left_panels=[panels.FabricPanel(), panels.FabricStatePanel(), TagsPanel(), CommentsPanel()],
        right_panels=[
            panels.FabricAlertsPanel(),
            panels.LifecyclePanel(),
            panels.FabricMaintenancePanel(),
            panels.ClusterConnectionPanel(),
            panels.FabricResourcesPanel(),
            panels.SwitchReadinessPanel(),
            panels.ArgoCDPanel(),
            CustomFieldsPanel(),
        ],
        bottom_panels=[
            ObjectsTablePanel(
                model="netbox_hedgehog.StateTransition",
                title=_("State history"),
                filters={"fabric_id": lambda ctx: ctx["object"].pk},
                exclude_columns=["fabric"],
            ),
        ],
    )


@register_model_view(HedgehogFabric, "state")
class HedgehogFabricStateView(BaseObjectView):
    """The state panel alone, which the fabric page asks for again and again (htmx; every 2 s while a
    job works on the fabric, every 5 s otherwise). When what the page shows changed (a state, a
    job started or ended, the counts, the alerts), the page is told to reload (HX-Refresh), so that
    every panel and the history tell the same."""

    queryset = HedgehogFabric.objects.all()

    def get_required_permission(self):
        return "netbox_hedgehog.view_hedgehogfabric"

    def get(self, request, pk):
        fabric = get_object_or_404(self.queryset, pk=pk)
        context = {"object": fabric, **panels.state_context(fabric)}
        response = render(request, "netbox_hedgehog/panels/fabric_state_body.html", context)
        if request.headers.get("HX-Request") and request.GET.get("seen") not in (None, context["seen"]):
            response["HX-Refresh"] = "true"
        return response


@register_model_view(HedgehogFabric, "add", detail=False)
@register_model_view(HedgehogFabric, "edit")
class HedgehogFabricEditView(generic.ObjectEditView):
    queryset = HedgehogFabric.objects.all()
    form = forms.HedgehogFabricForm


QUEUE_DOWN = _("The job queue (Redis) cannot be reached: nothing was started. Try again shortly.")


class _Kept(Exception):
    """NetBox did not delete (a refusal, an invalid form): what was done for the deletion is undone."""


def deleting(fabrics, request, delete):
    """Run NetBox's deletion view `delete` inside jobs.fabric_deletion for each fabric; when a fabric
    is still there afterwards, roll all of it back and answer what NetBox answered."""
    try:
        with transaction.atomic(), ExitStack() as stack:
            for fabric in fabrics:
                stack.enter_context(
                    fabric_deletion(fabric, user=request.user, request_id=getattr(request, "id", None))
                )
            response = delete()
            if HedgehogFabric.objects.filter(pk__in=[f.pk for f in fabrics]).exists():
                raise _Kept(response)
    except _Kept as kept:
        return kept.args[0]
    return response


@register_model_view(HedgehogFabric, "delete")
class HedgehogFabricDeleteView(generic.ObjectDeleteView):
    """NetBox's delete, with the fabric's resources and history deleted in bulk first and its jobs
    stopped (jobs.fabric_deletion): seconds for thousands of resources."""

    queryset = HedgehogFabric.objects.all()

    def post(self, request, *args, **kwargs):
        fabric = self.get_object(**kwargs)
        return deleting(
            [fabric], request, lambda: super(HedgehogFabricDeleteView, self).post(request, *args, **kwargs)
        )


@register_model_view(HedgehogFabric, "bulk_import", path="import", detail=False)
class HedgehogFabricBulkImportView(generic.BulkImportView):
    queryset = HedgehogFabric.objects.all()
    model_form = forms.HedgehogFabricImportForm


@register_model_view(HedgehogFabric, "bulk_edit", path="edit", detail=False)
class HedgehogFabricBulkEditView(generic.BulkEditView):
    queryset = HedgehogFabric.objects.all()
    filterset = filtersets.HedgehogFabricFilterSet
    table = tables.HedgehogFabricTable
    form = forms.HedgehogFabricBulkEditForm


@register_model_view(HedgehogFabric, "bulk_delete", path="delete", detail=False)
class HedgehogFabricBulkDeleteView(generic.BulkDeleteView):
    """NetBox's bulk delete, each selected fabric cleared in bulk first (see the delete view)."""

    queryset = HedgehogFabric.objects.all()
    filterset = filtersets.HedgehogFabricFilterSet
    table = tables.HedgehogFabricTable

    def post(self, request, **kwargs):
        pks = [pk for pk in request.POST.getlist("pk") if pk.isdigit()]
        if "_confirm" not in request.POST or request.POST.get("_all") or request.POST.get("background_job"):
            return super().post(request, **kwargs)
        fabrics = list(self.queryset.filter(pk__in=pks))  # restricted to what the user may delete
        return deleting(
            fabrics, request, lambda: super(HedgehogFabricBulkDeleteView, self).post(request, **kwargs)
        )


@register_model_view(HedgehogFabric, "transition")
class HedgehogFabricTransitionView(GetReturnURLMixin, BaseObjectView):
    """POST: move the lifecycle status (the buttons on the fabric page). Needs the change permission."""

    queryset = HedgehogFabric.objects.all()

    def get_required_permission(self):
        return "netbox_hedgehog.change_hedgehogfabric"

    def get(self, request, pk):
        return redirect(get_object_or_404(self.queryset, pk=pk).get_absolute_url())

    def post(self, request, pk):
        fabric = get_object_or_404(self.queryset, pk=pk)
        form = forms.LifecycleTransitionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Invalid request: {errors}").format(errors=form.errors.as_text()))
            return redirect(fabric.get_absolute_url())
        target = form.cleaned_data["status"]
        if target == machine.DECOMMISSIONED and not form.cleaned_data["confirm_decommission"]:
            messages.error(
                request,
                _(
                    "Decommissioning is final: tick the confirmation to decommission {fabric} (its jobs are "
                    "cancelled and its credentials cleared)."
                ).format(fabric=fabric),
            )
            return redirect(fabric.get_absolute_url())
        try:
            with transaction.atomic():
                transition(
                    fabric, machine.STATUS, target, user=request.user, reason=form.cleaned_data["reason"]
                )
                # The changed fabric must still satisfy the user's object permission constraints.
                if not self.queryset.filter(pk=fabric.pk).exists():
                    raise PermissionError
        except ValueError as exc:
            messages.error(request, str(exc))
        except InvalidTransition as exc:
            messages.error(request, exc.message)
        except PermissionError:
            messages.error(
                request,
                _("Your permissions do not allow this fabric to become {status}.").format(status=target),
            )
        else:
            messages.success(
                request,
                _("{fabric} is now {status}.").format(fabric=fabric, status=fabric.get_status_display()),
            )
        return redirect(self.get_return_url(request, fabric))


def job_message(text, job):
    """A message naming a job, linked to the job's page."""
    return format_html('{} <a href="{}">#{}</a>.', text, job.get_absolute_url(), job.pk)


class FabricJobButtonView(GetReturnURLMixin, BaseObjectView):
    """POST from a button on the fabric page: start a job (one at a time). Needs the action's own
    permission (netbox_hedgehog.<action>_hedgehogfabric)."""

    queryset = HedgehogFabric.objects.all()
    what = ""  # e.g. "Connection test"
    action = ""  # the permission's action: test_connection, sync

    def get_required_permission(self):
        return f"netbox_hedgehog.{self.action}_hedgehogfabric"

    def start(self, fabric, request):
        """Start the job; return (job, created) or raise InvalidTransition."""
        raise NotImplementedError

    def get(self, request, pk):
        return redirect(get_object_or_404(self.queryset, pk=pk).get_absolute_url())

    def post(self, request, pk):
        fabric = get_object_or_404(self.queryset, pk=pk)
        try:
            job, created = self.start(fabric, request)
        except InvalidTransition as exc:
            messages.error(request, exc.message)
        except RedisError:
            messages.error(request, QUEUE_DOWN)
        else:
            if created:
                messages.success(request, job_message(_("{what} queued as job").format(what=self.what), job))
            else:
                messages.info(
                    request,
                    job_message(_("{what} already queued or running: job").format(what=self.what), job),
                )
        return redirect(self.get_return_url(request, fabric))


@register_model_view(HedgehogFabric, "test_connection", path="test-connection")
class HedgehogFabricTestConnectionView(FabricJobButtonView):
    what = _("Connection test")
    action = "test_connection"

    def start(self, fabric, request):
        override = request.POST.get("override_maintenance") in ("on", "true", "1")
        return request_test(fabric, user=request.user, override=override)


@register_model_view(HedgehogFabric, "sync")
class HedgehogFabricSyncView(FabricJobButtonView):
    what = _("Sync")
    action = "sync"

    def start(self, fabric, request):
        return request_sync(fabric, user=request.user)


@register_model_view(HedgehogFabric, "reconcile")
class HedgehogFabricReconcileView(BaseObjectView):
    """Choose a direction, preview it (a dry run), then run exactly that plan. Needs the reconcile
    permission. "Reconcile now" sends the previewed plan's direction, prune and token (not the
    choices above it, which may have changed since); a plan that deletes asks for confirmation."""

    queryset = HedgehogFabric.objects.all()
    template_name = "netbox_hedgehog/reconcile.html"

    def get_required_permission(self):
        return "netbox_hedgehog.reconcile_hedgehogfabric"

    def get(self, request, pk):
        fabric = get_object_or_404(self.queryset, pk=pk)
        form = forms.ReconcileForm(initial={"direction": ReconcileDirectionChoices.APPLY})
        return self.page(request, fabric, form)

    def page(self, request, fabric, form, plan=None, run_form=None):
        deletes = [a for a in (plan or {}).get("actions", ()) if a["action"] == ReconcileActionChoices.DELETE]
        if plan and run_form is None:
            run_form = forms.ReconcileRunForm(
                initial={"direction": plan["direction"], "prune": plan["prune"], "plan": plan["plan"]}
            )
        context = {
            "object": fabric,
            "form": form,
            "plan": plan,
            "run_form": run_form,
            "deletes": deletes,
            "suspended": machine.suspended(fabric.state),
        }
        return render(request, self.template_name, context)

    def post(self, request, pk):
        fabric = get_object_or_404(self.queryset, pk=pk)
        if "run" in request.POST:
            return self.run(request, fabric)
        form = forms.ReconcileForm(request.POST)
        plan = None
        if form.is_valid():
            try:
                plan = reconcile.preview(
                    fabric,
                    form.cleaned_data["direction"],
                    prune=form.cleaned_data["prune"],
                    override=form.cleaned_data["override_maintenance"],
                    user=request.user,
                )
            except reconcile.CannotAsk as exc:
                messages.error(request, exc.message)
            except KubeFailure as failure:
                messages.error(
                    request, _("Could not ask the cluster: {message}").format(message=failure.message)
                )
        return self.page(request, fabric, form, plan)

    def run(self, request, fabric):
        run_form = forms.ReconcileRunForm(request.POST)
        if not run_form.is_valid():
            messages.error(request, _("Preview the reconciliation first: only a previewed plan runs."))
            return redirect(request.path)
        direction, prune = run_form.cleaned_data["direction"], run_form.cleaned_data["prune"]
        token = run_form.cleaned_data["plan"]
        deletes = prune and any(
            a.action == ReconcileActionChoices.DELETE for a in reconcile.plan(fabric, direction, prune)
        )
        if deletes and not run_form.cleaned_data["confirm_prune"]:
            messages.error(
                request,
                _(
                    "This plan deletes objects from the cluster: confirm it to run it, or preview without prune."
                ),
            )
        else:
            try:
                job, _created = request_reconcile(
                    fabric, direction, prune=prune, user=request.user, expected_plan=token
                )
            except InvalidTransition as exc:
                messages.error(request, exc.message)
            except RedisError:
                messages.error(request, QUEUE_DOWN)
            except reconcile.PlanChanged as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, job_message(_("Reconciliation queued as job"), job))
                return redirect(job.get_absolute_url())
        form = forms.ReconcileForm(initial={"direction": direction, "prune": prune})
        return self.page(request, fabric, form)


@register_model_view(HedgehogFabric, "purge_resources", path="purge-resources")
class HedgehogFabricPurgeView(GetReturnURLMixin, BaseObjectView):
    """POST: delete every resource of a decommissioned fabric (its history stays). Needs the
    permission to delete resources."""

    queryset = HedgehogFabric.objects.all()

    def get_required_permission(self):
        return "netbox_hedgehog.delete_hedgehogresource"

    def get(self, request, pk):
        return redirect(get_object_or_404(self.queryset, pk=pk).get_absolute_url())

    def post(self, request, pk):
        fabric = get_object_or_404(self.queryset, pk=pk)
        if fabric.status != machine.DECOMMISSIONED:
            messages.error(request, _("Only a decommissioned fabric's resources are purged."))
        elif request.POST.get("confirm") != "true":
            messages.error(request, _("Confirm the purge: it cannot be undone."))
        else:
            count = deletion.purge(fabric, user=request.user, request_id=getattr(request, "id", None))
            messages.success(
                request, _("{count} resources of {fabric} deleted.").format(count=count, fabric=fabric)
            )
        return redirect(fabric.get_absolute_url())


#
# State transitions (read-only)
#


@register_model_view(StateTransition, "list", path="", detail=False)
class StateTransitionListView(generic.ObjectListView):
    """The history. Routine health checks (connected -> testing -> connected, nothing new) are
    hidden unless the `routine` filter asks for them."""

    queryset = StateTransition.objects.select_related("fabric", "user", "job")
    filterset = filtersets.StateTransitionFilterSet
    filterset_form = forms.StateTransitionFilterForm
    table = tables.StateTransitionTable
    actions = (BulkExport,)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not request.GET.get("routine"):
            queryset = queryset.filter(routine=False)
        return queryset


@register_model_view(StateTransition)
class StateTransitionView(generic.ObjectView):
    queryset = StateTransition.objects.select_related("fabric", "user", "job")
    template_name = "generic/object.html"
    actions = ()
    layout = layout.SimpleLayout(left_panels=[panels.StateTransitionPanel()])
