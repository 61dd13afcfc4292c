from .alert import AlertStatusChange, ReconciliationAlert
from .fabric import HedgehogFabric
from .history import StateTransition
from .resource import HedgehogResource

__all__ = (
    "AlertStatusChange",
    "HedgehogFabric",
    "HedgehogResource",
    "ReconciliationAlert",
    "StateTransition",
)
