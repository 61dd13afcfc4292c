"""The fabric state: the machine (plain data) and the service every writer calls.

Public API::

    from netbox_hedgehog.state import transition, allowed_transitions, validate, required_action
"""

from .machine import Refused
from .service import (
    InvalidTransition,
    allowed_transitions,
    available_transitions,
    required_action,
    transition,
    validate,
)

__all__ = (
    "InvalidTransition",
    "Refused",
    "allowed_transitions",
    "available_transitions",
    "required_action",
    "transition",
    "validate",
)
