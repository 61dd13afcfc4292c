"""What the plugin's endpoints answer when the database or a dependency refuses, instead of a 500.

NetBox answers a 500 (with the database's message) for a filter value PostgreSQL refuses (an
invalid regular expression, an out-of-range time zone, a NUL character) and for anything while
PostgreSQL or Redis is down. On the plugin's own endpoints these become a 400 with a short reason,
or a 503 with a short JSON reason and no internals (no host, port or driver message).
"""

import logging

from django.db import DataError, InterfaceError, OperationalError
from django.utils.translation import gettext_lazy as _
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import status
from rest_framework.exceptions import APIException

log = logging.getLogger("netbox_hedgehog.api")


class InvalidValue(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_value"
    default_detail = _(
        "A value of the request cannot be used (an invalid regular expression, time zone or character, "
        "or null where a filter needs a value)."
    )


class Unavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"

    def __init__(self, what):
        super().__init__(
            {
                "detail": _("The {what} is unavailable; try again shortly.").format(what=what),
                "code": f"{what}_unavailable",
            }
        )


def translated(exc):
    """The APIException a refusal of the database or a dependency stands for, or None."""
    if isinstance(exc, DataError):
        return InvalidValue()
    if isinstance(exc, ValueError) and "Cannot use None as a query value" in str(exc):
        return InvalidValue()
    if isinstance(exc, (OperationalError, InterfaceError)):
        log.error("database unavailable: %s", type(exc).__name__)
        return Unavailable("database")
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        log.error("redis unavailable: %s", type(exc).__name__)
        return Unavailable("queue")
    return None


class PluginErrorsMixin:
    """For the plugin's viewsets: see the module."""

    def handle_exception(self, exc):
        return super().handle_exception(translated(exc) or exc)
