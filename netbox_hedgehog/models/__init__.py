from .alert import AlertStatusChange, ReconciliationAlert
from .fabric import HedgehogFabric
from .git import GitRepository, GitRepositoryTransition
from .history import StateTransition
from .maintenance import MaintenanceWindow
from .resource import HedgehogResource

__all__ = (
    "AlertStatusChange",
    "GitRepository",
    "GitRepositoryTransition",
    "HedgehogFabric",
    "HedgehogResource",
    "MaintenanceWindow",
    "ReconciliationAlert",
    "StateTransition",
)
