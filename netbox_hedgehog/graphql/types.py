from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from netbox.graphql.types import BaseObjectType, NetBoxObjectType, register_type
from strawberry.scalars import JSON

from .. import models
from .filters import (
    GitRepositoryFilter,
    HedgehogFabricFilter,
    HedgehogResourceFilter,
    MaintenanceWindowFilter,
    ReconciliationAlertFilter,
    StateTransitionFilter,
)

if TYPE_CHECKING:
    from users.graphql.types import UserType

__all__ = (
    "GitRepositoryType",
    "HedgehogFabricType",
    "HedgehogResourceType",
    "MaintenanceWindowType",
    "ReconciliationAlertType",
    "StateTransitionType",
)

# Never the secrets (kubernetes_token, kubeconfig): only whether each is set.
FABRIC_FIELDS = [
    "id",
    "name",
    "description",
    "comments",
    "status",
    "status_changed",
    "connection_status",
    "connection_status_changed",
    "last_validated",
    "connection_error",
    "sync_status",
    "sync_status_changed",
    "last_sync",
    "sync_error",
    "connection_error_code",
    "connection_attempts",
    "next_connection_attempt",
    "cluster_info",
    "kubernetes_server",
    "kubernetes_ca_cert",
    "kubernetes_namespace",
    "kubernetes_verify_tls",
    "kubernetes_allow_http",
    "kubeconfig_context",
    "sync_summary",
    "open_alerts",
    "sync_interval",
    "connected_since",
    "sync_attempts",
    "next_sync_attempt",
    "auto_reconcile",
    "auto_reconcile_prune",
    "last_auto_reconcile",
    "created",
    "last_updated",
]
# Argo CD and switch readiness (docs/argocd.md): the settings and what was read, as JSON objects
# shaped as in the REST API (argocd, switch_readiness); activation_missing below.
FABRIC_FIELDS += ["argocd_namespace", "argocd_application", "argocd_status", "switch_readiness"]


@register_type(models.HedgehogFabric, fields=FABRIC_FIELDS, filters=HedgehogFabricFilter, pagination=True)
class HedgehogFabricType(NetBoxObjectType):
    state_transitions: list[
        Annotated["StateTransitionType", strawberry.lazy("netbox_hedgehog.graphql.types")]
    ]

    @strawberry_django.field
    def required_action(self) -> str:
        return self.required_action

    @strawberry_django.field
    def kubernetes_token_set(self) -> bool:
        return bool(self.kubernetes_token)

    @strawberry_django.field
    def kubeconfig_set(self) -> bool:
        return bool(self.kubeconfig)

    @strawberry_django.field(
        description="The Argo CD activation conditions that do not hold now: [{code, message}]"
    )
    def activation_missing(self) -> JSON:
        return [{"code": code, "message": message} for code, message in self.activation_missing]


@register_type(
    models.StateTransition,
    fields=["id", "field", "previous", "new", "trigger", "reason", "time", "routine"],
    filters=StateTransitionFilter,
    pagination=True,
)
class StateTransitionType(BaseObjectType):
    fabric: Annotated["HedgehogFabricType", strawberry.lazy("netbox_hedgehog.graphql.types")]
    user: Annotated["UserType", strawberry.lazy("users.graphql.types")] | None

    @strawberry.field
    def job_id(self) -> int | None:
        return self.job_id


@register_type(
    models.HedgehogResource,
    fields=[
        "id",
        "api_group",
        "api_version",
        "kind",
        "plural",
        "namespace",
        "name",
        "sync_state",
        "desired_spec",
        "desired_labels",
        "actual_spec",
        "actual_labels",
        "actual_annotations",
        "actual_status",
        "diff",
        "sync_error",
        "uid",
        "resource_version",
        "generation",
        "first_seen",
        "last_seen",
        "apply_pending_since",
        "created",
        "last_updated",
    ],
    filters=HedgehogResourceFilter,
    pagination=True,
)
class HedgehogResourceType(NetBoxObjectType):
    fabric: Annotated["HedgehogFabricType", strawberry.lazy("netbox_hedgehog.graphql.types")]

    @strawberry_django.field
    def applied(self) -> bool | None:
        return self.applied


@register_type(
    models.ReconciliationAlert,
    fields=[
        "id",
        "type",
        "severity",
        "status",
        "suppressed_until",
        "message",
        "suggested_action",
        "first_seen",
        "last_seen",
        "occurrences",
        "acknowledged_at",
        "resolved_at",
        "resolution",
        "resolution_note",
        "follow_up",
        "created",
        "last_updated",
    ],
    filters=ReconciliationAlertFilter,
    pagination=True,
)
class ReconciliationAlertType(NetBoxObjectType):
    fabric: Annotated["HedgehogFabricType", strawberry.lazy("netbox_hedgehog.graphql.types")]
    resource: Annotated["HedgehogResourceType", strawberry.lazy("netbox_hedgehog.graphql.types")] | None


@register_type(
    models.MaintenanceWindow,
    fields=["id", "name", "start", "end", "reason", "created", "last_updated"],
    filters=MaintenanceWindowFilter,
    pagination=True,
)
class MaintenanceWindowType(NetBoxObjectType):
    fabrics: list[Annotated["HedgehogFabricType", strawberry.lazy("netbox_hedgehog.graphql.types")]]
    created_by: Annotated["UserType", strawberry.lazy("users.graphql.types")] | None


# --- git repositories (docs/git.md): never the secrets (password, ssh_private_key), only whether set


@register_type(
    models.GitRepository,
    fields=[
        "id",
        "name",
        "description",
        "comments",
        "remote_url",
        "branch",
        "username",
        "ca_cert",
        "ssh_known_hosts",
        "connection_status",
        "connection_status_changed",
        "last_validated",
        "connection_error",
        "connection_error_code",
        "head_commit",
        "head_commit_seen",
        "created",
        "last_updated",
    ],  # fmt: skip
    filters=GitRepositoryFilter,
    pagination=True,
)
class GitRepositoryType(NetBoxObjectType):
    @strawberry_django.field
    def password_set(self) -> bool:
        return bool(self.password)

    @strawberry_django.field
    def ssh_private_key_set(self) -> bool:
        return bool(self.ssh_private_key)
