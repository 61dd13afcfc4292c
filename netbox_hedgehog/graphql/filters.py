import strawberry_django
from django.db.models import Q
from netbox.graphql.filter_lookups import IntegerLookup
from netbox.graphql.filters import BaseModelFilter, NetBoxModelFilter, register_filter
from strawberry.scalars import ID
from strawberry_django import DatetimeFilterLookup, StrFilterLookup

from .. import models
from ..models.fabric import required_action_q

__all__ = (
    "GitRepositoryFilter",
    "HedgehogFabricFilter",
    "HedgehogResourceFilter",
    "MaintenanceWindowFilter",
    "ReconciliationAlertFilter",
    "StateTransitionFilter",
)


@register_filter(models.HedgehogFabric, lookups=True)
class HedgehogFabricFilter(NetBoxModelFilter):
    name: StrFilterLookup | None = strawberry_django.filter_field()
    description: StrFilterLookup | None = strawberry_django.filter_field()
    status: StrFilterLookup | None = strawberry_django.filter_field()
    connection_status: StrFilterLookup | None = strawberry_django.filter_field()
    sync_status: StrFilterLookup | None = strawberry_django.filter_field()
    last_validated: DatetimeFilterLookup | None = strawberry_django.filter_field()
    last_sync: DatetimeFilterLookup | None = strawberry_django.filter_field()
    sync_interval: IntegerLookup | None = strawberry_django.filter_field()
    auto_reconcile: StrFilterLookup | None = strawberry_django.filter_field()

    @strawberry_django.filter_field
    def required_action(self, value: list[str], prefix: str) -> Q:
        """Fabrics whose states ask for one of these actions (RequiredActionChoices values)."""
        return required_action_q(value, prefix)


@register_filter(models.StateTransition, lookups=True)
class StateTransitionFilter(BaseModelFilter):
    fabric_id: ID | None = strawberry_django.filter_field()
    field: StrFilterLookup | None = strawberry_django.filter_field()
    previous: StrFilterLookup | None = strawberry_django.filter_field()
    new: StrFilterLookup | None = strawberry_django.filter_field()
    trigger: StrFilterLookup | None = strawberry_django.filter_field()
    user_id: ID | None = strawberry_django.filter_field()
    time: DatetimeFilterLookup | None = strawberry_django.filter_field()
    routine: bool | None = strawberry_django.filter_field()


@register_filter(models.HedgehogResource, lookups=True)
class HedgehogResourceFilter(NetBoxModelFilter):
    fabric_id: ID | None = strawberry_django.filter_field()
    kind: StrFilterLookup | None = strawberry_django.filter_field()
    namespace: StrFilterLookup | None = strawberry_django.filter_field()
    name: StrFilterLookup | None = strawberry_django.filter_field()
    sync_state: StrFilterLookup | None = strawberry_django.filter_field()


@register_filter(models.ReconciliationAlert, lookups=True)
class ReconciliationAlertFilter(NetBoxModelFilter):
    fabric_id: ID | None = strawberry_django.filter_field()
    resource_id: ID | None = strawberry_django.filter_field()
    type: StrFilterLookup | None = strawberry_django.filter_field()
    severity: StrFilterLookup | None = strawberry_django.filter_field()
    status: StrFilterLookup | None = strawberry_django.filter_field()
    last_seen: DatetimeFilterLookup | None = strawberry_django.filter_field()


@register_filter(models.MaintenanceWindow, lookups=True)
class MaintenanceWindowFilter(NetBoxModelFilter):
    name: StrFilterLookup | None = strawberry_django.filter_field()
    start: DatetimeFilterLookup | None = strawberry_django.filter_field()
    end: DatetimeFilterLookup | None = strawberry_django.filter_field()
    reason: StrFilterLookup | None = strawberry_django.filter_field()


# --- git repositories (docs/git.md) ----------------------------------------------------------------


@register_filter(models.GitRepository, lookups=True)
class GitRepositoryFilter(NetBoxModelFilter):
    name: StrFilterLookup | None = strawberry_django.filter_field()
    remote_url: StrFilterLookup | None = strawberry_django.filter_field()
    branch: StrFilterLookup | None = strawberry_django.filter_field()
    connection_status: StrFilterLookup | None = strawberry_django.filter_field()
    connection_error_code: StrFilterLookup | None = strawberry_django.filter_field()
    last_validated: DatetimeFilterLookup | None = strawberry_django.filter_field()
