from .fabric import HedgehogFabric
from .history import StateTransition

__all__ = ("HedgehogFabric", "StateTransition")
