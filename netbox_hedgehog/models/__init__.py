from .alert import AlertStatusChange, ReconciliationAlert
from .fabric import HedgehogFabric
from .history import StateTransition
from .maintenance import MaintenanceWindow
from .resource import HedgehogResource

__all__ = (
    "AlertStatusChange",
    "HedgehogFabric",
    "HedgehogResource",
    "MaintenanceWindow",
    "ReconciliationAlert",
    "StateTransition",
)
