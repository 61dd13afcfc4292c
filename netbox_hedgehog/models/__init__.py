from .fabric import HedgehogFabric
from .history import StateTransition
from .resource import HedgehogResource

__all__ = ("HedgehogFabric", "HedgehogResource", "StateTransition")
