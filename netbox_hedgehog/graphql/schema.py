import strawberry
import strawberry_django

from .types import (
    GitRepositoryType,
    HedgehogFabricType,
    HedgehogResourceType,
    MaintenanceWindowType,
    ReconciliationAlertType,
    StateTransitionType,
)


@strawberry.type(name="Query")
class HedgehogQuery:
    hedgehog_fabric: HedgehogFabricType = strawberry_django.field()
    hedgehog_fabric_list: list[HedgehogFabricType] = strawberry_django.field()

    hedgehog_resource: HedgehogResourceType = strawberry_django.field()
    hedgehog_resource_list: list[HedgehogResourceType] = strawberry_django.field()

    hedgehog_state_transition: StateTransitionType = strawberry_django.field()
    hedgehog_state_transition_list: list[StateTransitionType] = strawberry_django.field()

    hedgehog_alert: ReconciliationAlertType = strawberry_django.field()
    hedgehog_alert_list: list[ReconciliationAlertType] = strawberry_django.field()

    hedgehog_maintenance_window: MaintenanceWindowType = strawberry_django.field()
    hedgehog_maintenance_window_list: list[MaintenanceWindowType] = strawberry_django.field()

    hedgehog_git_repository: GitRepositoryType = strawberry_django.field()
    hedgehog_git_repository_list: list[GitRepositoryType] = strawberry_django.field()


schema = [HedgehogQuery]
