from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from netbox.api.authentication import TokenPermissions
from netbox.api.viewsets import NetBoxModelViewSet, NetBoxReadOnlyModelViewSet
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError

# DRF's: a malformed id ("abc") is a 404, where Django's raises ValueError (a 500)
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import APIRootView

from .. import filtersets
from ..jobs import (
    fabric_deletion,
    request_git_test,
    request_reconcile,
    request_sync,
    request_test,
    resolve_alert,
)
from ..kube.errors import KubeFailure
from ..models import GitRepository, HedgehogFabric, MaintenanceWindow, ReconciliationAlert, StateTransition
from ..services import alerts, reconcile
from ..services.state import InvalidTransition, transition
from ..state import machine
from . import serializers
from .errors import PluginErrorsMixin
from .parsers import BoundedJSONParser

PARSERS = (BoundedJSONParser, MultiPartParser)


def answers(ok: dict, *codes) -> dict:
    """The responses of a custom action for the OpenAPI schema: its successes and its error bodies."""
    bodies = {
        400: OpenApiResponse(serializers.ValidationErrorSerializer, description=_("Invalid body")),
        403: OpenApiResponse(serializers.ErrorSerializer, description=_("Not permitted")),
        404: OpenApiResponse(serializers.ErrorSerializer, description=_("No such fabric (or not visible)")),
        409: OpenApiResponse(
            serializers.TransitionRefusedSerializer, description=_("Refused by the state machine")
        ),
        415: OpenApiResponse(serializers.ErrorSerializer, description=_("Unsupported media type")),
        502: OpenApiResponse(serializers.FailureSerializer, description=_("The cluster could not be asked")),
        503: OpenApiResponse(
            serializers.FailureSerializer, description=_("The database or the queue is down")
        ),
    }
    return {**ok, **{code: bodies[code] for code in (*codes, 503)}}


class HedgehogRootView(APIRootView):
    def get_view_name(self):
        return "Hedgehog"


class TokenActionPermission(TokenPermissions):
    """A POST to a fabric action needs that action's permission (netbox_hedgehog.<action>_hedgehogfabric:
    change for a lifecycle transition; test_connection, sync, reconcile), not the add permission a
    POST otherwise maps to. Token write ability is still enforced by the parent class."""

    def __init__(self, action):
        super().__init__()
        self.perms_map = {**TokenPermissions.perms_map, "POST": [f"%(app_label)s.{action}_%(model_name)s"]}


# The custom action -> the permission it needs.
ACTION_PERMISSIONS = {
    "transition": "change",
    "test_connection": "test_connection",
    "sync": "sync",
    "reconcile": "reconcile",
}


def fabric_for(request, pk, action):
    """The fabric, if the user may see it (else 404) and do `action` on it (else 403)."""
    fabric = get_object_or_404(HedgehogFabric.objects.restrict(request.user, "view"), pk=pk)
    if not request.user.has_perm(f"netbox_hedgehog.{action}_hedgehogfabric", obj=fabric):
        raise PermissionDenied(
            _("You do not have permission to {action} this fabric.").format(action=action.replace("_", " "))
        )
    return fabric


class HedgehogFabricViewSet(PluginErrorsMixin, NetBoxModelViewSet):
    parser_classes = PARSERS
    queryset = HedgehogFabric.objects.prefetch_related("tags")
    serializer_class = serializers.HedgehogFabricSerializer
    filterset_class = filtersets.HedgehogFabricFilterSet

    def perform_destroy(self, instance):
        """NetBox's delete (one, or each of a bulk delete), the fabric's resources and history deleted
        in bulk first and its jobs stopped (jobs.fabric_deletion)."""
        with fabric_deletion(instance, user=self.request.user, request_id=getattr(self.request, "id", None)):
            super().perform_destroy(instance)

    def get_permissions(self):
        if self.action in ACTION_PERMISSIONS:
            return [TokenActionPermission(ACTION_PERMISSIONS[self.action])]
        return super().get_permissions()

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter(
                "override_maintenance",
                bool,
                description="Test a fabric in maintenance anyway (recorded in its history)",
                required=False,
            )
        ],
        responses=answers({202: serializers.ConnectionTestAcceptedSerializer}, 403, 404, 409),
    )
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk):
        """Start a connection test (202 with the job). While one is pending or running, answer with it.

        The fabric moves to testing at once; the job ends it connected or failed. 409 when the fabric
        is decommissioned, and when it is in maintenance unless `?override_maintenance=true`. Needs
        the test_connection permission on the fabric.
        """
        fabric = fabric_for(request, pk, "test_connection")
        override = str(request.query_params.get("override_maintenance", "")).lower() in ("1", "true", "yes")
        try:
            job, created = request_test(fabric, user=request.user, override=override)
        except InvalidTransition as exc:
            raise serializers.TransitionRefused(exc) from None
        body = serializers.ConnectionTestAcceptedSerializer(
            {"job": job, "created": created, "connection_status": fabric.connection_status},
            context={"request": request},
        )
        return Response(body.data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=answers({202: serializers.SyncAcceptedSerializer}, 403, 404, 409))
    @action(detail=True, methods=["post"])
    def sync(self, request, pk):
        """Start a sync (202 with the job); while a sync or reconciliation is pending or running, answer
        with it. 409 with the reason when the fabric cannot sync (not connected, in maintenance,
        decommissioned). Needs the sync permission on the fabric.
        """
        fabric = fabric_for(request, pk, "sync")
        try:
            job, created = request_sync(fabric, user=request.user)
        except InvalidTransition as exc:
            raise serializers.TransitionRefused(exc) from None
        body = serializers.SyncAcceptedSerializer(
            {"job": job, "created": created, "sync_status": fabric.sync_status}, context={"request": request}
        )
        return Response(body.data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=serializers.ReconcileRequestSerializer,
        responses=answers(
            {200: serializers.ReconcilePlanSerializer, 202: serializers.SyncAcceptedSerializer},
            400,
            403,
            404,
            409,
            415,
            502,
        ),
    )
    @action(detail=True, methods=["post"])
    def reconcile(self, request, pk):
        """Reconcile NetBox and the cluster: {"direction": "apply"|"adopt", "dry_run": bool, "prune": bool}.

        A dry run (the default) answers 200 with every planned action (for apply, judged by the
        cluster with dryRun=All; a patch lists its field changes) and its `plan` token, and changes
        nothing. Otherwise 202 with the job; given `plan`, only that previewed plan runs (409
        `plan_changed` otherwise). 409 with the reason when the fabric cannot sync now, is not
        connected, or is in maintenance (a dry run may pass `override_maintenance`). Needs the
        reconcile permission on the fabric.
        """
        fabric = fabric_for(request, pk, "reconcile")
        body = serializers.ReconcileRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        options = body.validated_data
        if options["dry_run"]:
            try:
                report = reconcile.preview(
                    fabric,
                    options["direction"],
                    prune=options["prune"],
                    override=options["override_maintenance"],
                    user=request.user,
                )
            except reconcile.CannotAsk as exc:
                raise serializers.CannotAsk(fabric, exc) from None
            except KubeFailure as failure:
                raise serializers.ClusterUnavailable(failure) from None
            return Response(serializers.ReconcilePlanSerializer(report).data)
        try:
            job, created = request_reconcile(
                fabric,
                options["direction"],
                prune=options["prune"],
                user=request.user,
                expected_plan=options.get("plan") or None,
            )
        except InvalidTransition as exc:
            raise serializers.TransitionRefused(exc) from None
        except reconcile.PlanChanged as exc:
            raise serializers.PlanChanged(str(exc)) from None
        accepted = serializers.SyncAcceptedSerializer(
            {"job": job, "created": created, "sync_status": fabric.sync_status}, context={"request": request}
        )
        return Response(accepted.data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=serializers.TransitionRequestSerializer,
        responses=answers({200: serializers.HedgehogFabricSerializer}, 400, 403, 404, 409, 415),
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, pk):
        """Move the fabric's lifecycle status through the transition table, with an optional reason.

        409 when the table or a consistency rule refuses (the body names the current state and the
        allowed targets); 400 for an unknown status.
        """
        fabric = fabric_for(request, pk, "change")
        body = serializers.TransitionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            try:
                transition(
                    fabric,
                    machine.STATUS,
                    body.validated_data["status"],
                    user=request.user,
                    reason=body.validated_data["reason"],
                )
            except InvalidTransition as exc:
                raise serializers.TransitionRefused(exc) from None
            # Object permission constraints must still hold for the changed fabric (as for any
            # NetBox write); otherwise the change is rolled back.
            if not HedgehogFabric.objects.restrict(request.user, "change").filter(pk=fabric.pk).exists():
                raise PermissionDenied(
                    _("Your permissions do not allow the fabric to become {status}.").format(
                        status=body.validated_data["status"]
                    )
                )
        fabric = (
            HedgehogFabric.objects.restrict(request.user, "view").prefetch_related("tags").get(pk=fabric.pk)
        )
        return Response(self.get_serializer(fabric).data)


class StateTransitionViewSet(PluginErrorsMixin, NetBoxReadOnlyModelViewSet):
    queryset = StateTransition.objects.select_related("fabric", "user")
    serializer_class = serializers.StateTransitionSerializer
    filterset_class = filtersets.StateTransitionFilterSet


# acknowledge and suppress need the acknowledge permission, resolve its own.
ALERT_ACTIONS = {"acknowledge": "acknowledge", "suppress": "acknowledge", "resolve": "resolve"}


class ReconciliationAlertViewSet(PluginErrorsMixin, NetBoxReadOnlyModelViewSet):
    """Alerts are opened and resolved by the rules; people acknowledge, suppress and resolve them."""

    queryset = ReconciliationAlert.objects.select_related(
        "fabric", "resource", "acknowledged_by", "resolved_by"
    )
    queryset = queryset.prefetch_related("tags", "status_changes__user")
    serializer_class = serializers.ReconciliationAlertSerializer
    filterset_class = filtersets.ReconciliationAlertFilterSet
    parser_classes = PARSERS

    def get_permissions(self):
        if self.action in ALERT_ACTIONS:
            return [TokenActionPermission(ALERT_ACTIONS[self.action])]
        return super().get_permissions()

    def _alert_for(self, request, pk, action):
        # not self.queryset: NetBox restricts it by the HTTP method's action (a POST's "add")
        alert = get_object_or_404(ReconciliationAlert.objects.restrict(request.user, "view"), pk=pk)
        if not request.user.has_perm(f"netbox_hedgehog.{action}_reconciliationalert", obj=alert):
            raise PermissionDenied(
                _("You do not have permission to {action} this alert.").format(action=action)
            )
        return alert

    def _answer(self, request, alert):
        alert = ReconciliationAlert.objects.get(pk=alert.pk)
        return Response(self.get_serializer(alert, context={"request": request}).data)

    def _refused(self, exc):
        raise serializers.AlertRefusedError(exc) from None

    @extend_schema(
        request=serializers.AlertNoteSerializer,
        responses=answers({200: serializers.ReconciliationAlertSerializer}, 400, 403, 404, 409, 415),
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk):
        """Acknowledge an open alert, with an optional note (`{"note": "..."}`). 409 when its status
        does not allow it (a resolved alert). Needs the acknowledge permission."""
        alert = self._alert_for(request, pk, "acknowledge")
        body = serializers.AlertNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            alerts.acknowledge(alert, user=request.user, note=body.validated_data["note"])
        except alerts.AlertRefused as exc:
            self._refused(exc)
        return self._answer(request, alert)

    @extend_schema(
        request=serializers.AlertSuppressSerializer,
        responses=answers({200: serializers.ReconciliationAlertSerializer}, 400, 403, 404, 409, 415),
    )
    @action(detail=True, methods=["post"])
    def suppress(self, request, pk):
        """Suppress an open alert until a time (`{"until": "...", "note": "..."}`); it becomes active
        again then if its condition still holds. Needs the acknowledge permission."""
        alert = self._alert_for(request, pk, "acknowledge")
        body = serializers.AlertSuppressSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            alerts.suppress(
                alert, user=request.user, until=body.validated_data["until"], note=body.validated_data["note"]
            )
        except alerts.AlertRefused as exc:
            self._refused(exc)
        except ValueError as exc:
            raise ValidationError({"until": [str(exc)]}) from None
        return self._answer(request, alert)

    @extend_schema(
        request=serializers.AlertNoteSerializer,
        responses=answers({200: serializers.ReconciliationAlertSerializer}, 400, 403, 404, 409, 415),
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk):
        """Resolve an alert by hand (`{"note": "..."}`): its follow-up runs and is recorded on it (a
        connection test, a sync, a reconcile of its resource, a validation). Needs the resolve
        permission; the follow-up needs nothing more (it is what the alert asks for)."""
        alert = self._alert_for(request, pk, "resolve")
        body = serializers.AlertNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            resolve_alert(alert, user=request.user, note=body.validated_data["note"])
        except alerts.AlertRefused as exc:
            self._refused(exc)
        return self._answer(request, alert)


class MaintenanceWindowViewSet(PluginErrorsMixin, NetBoxModelViewSet):
    """Maintenance windows: at the start their fabrics enter maintenance, at the end they return to
    active (a system job, every minute). A window entirely in the past, one that ends before it
    starts, or one holding a fabric that cannot enter maintenance (planned, decommissioned) is a 400."""

    queryset = MaintenanceWindow.objects.select_related("created_by").prefetch_related("fabrics", "tags")
    serializer_class = serializers.MaintenanceWindowSerializer
    filterset_class = filtersets.MaintenanceWindowFilterSet
    parser_classes = PARSERS


# --- git repositories (docs/git.md) ----------------------------------------------------------------


class GitRepositoryViewSet(PluginErrorsMixin, NetBoxModelViewSet):
    """Git repositories holding fabrics' desired state; credentials are write-only."""

    parser_classes = PARSERS
    queryset = GitRepository.objects.prefetch_related("tags")
    serializer_class = serializers.GitRepositorySerializer
    filterset_class = filtersets.GitRepositoryFilterSet

    def get_permissions(self):
        if self.action == "test_connection":
            return [TokenActionPermission("test_connection")]
        return super().get_permissions()

    @extend_schema(
        request=None, responses=answers({202: serializers.GitTestAcceptedSerializer}, 403, 404, 409)
    )
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk):
        """Start a connection test of the repository (ls-remote over its real protocol, as a job): 202
        with the job; while one is pending or running, answer with it. The repository moves to
        testing at once; the job ends it connected (with the head commit) or failed (with a reason:
        auth, not_found, network, tls, host_key, bad_ref). Needs the test_connection permission."""
        repository = get_object_or_404(GitRepository.objects.restrict(request.user, "view"), pk=pk)
        if not request.user.has_perm("netbox_hedgehog.test_connection_gitrepository", obj=repository):
            raise PermissionDenied(_("You do not have permission to test this repository."))
        try:
            job, created = request_git_test(repository, user=request.user)
        except InvalidTransition as exc:
            raise serializers.TransitionRefused(exc) from None
        body = serializers.GitTestAcceptedSerializer(
            {"job": job, "created": created, "connection_status": repository.connection_status},
            context={"request": request},
        )
        return Response(body.data, status=status.HTTP_202_ACCEPTED)
