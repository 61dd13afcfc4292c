from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from netbox.graphql.types import BaseObjectType, NetBoxObjectType, register_type

from .. import models
from .filters import HedgehogFabricFilter, StateTransitionFilter

if TYPE_CHECKING:
    from users.graphql.types import UserType

__all__ = ("HedgehogFabricType", "StateTransitionType")

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
    "created",
    "last_updated",
]


@register_type(models.HedgehogFabric, fields=FABRIC_FIELDS, filters=HedgehogFabricFilter, pagination=True)
class HedgehogFabricType(NetBoxObjectType):
    state_transitions: list[
        Annotated["StateTransitionType", strawberry.lazy("netbox_hedgehog.graphql.types")]
    ]

    @strawberry_django.field
    def required_action(self) -> str:
        return self.required_action


@register_type(
    models.StateTransition,
    fields=["id", "field", "previous", "new", "trigger", "reason", "time"],
    filters=StateTransitionFilter,
    pagination=True,
)
class StateTransitionType(BaseObjectType):
    fabric: Annotated["HedgehogFabricType", strawberry.lazy("netbox_hedgehog.graphql.types")]
    user: Annotated["UserType", strawberry.lazy("users.graphql.types")] | None

    @strawberry.field
    def job_id(self) -> int | None:
        return self.job_id
