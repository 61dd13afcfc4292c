"""Tests change the plugin's settings with this (NetBox reads PLUGINS_CONFIG on every call)."""

import copy
from contextlib import contextmanager

from django.conf import settings as django_settings
from django.test import override_settings


@contextmanager
def plugin_settings(**values):
    """PLUGINS_CONFIG["netbox_hedgehog"] with `values` changed (everything else as configured)."""
    config = copy.deepcopy(django_settings.PLUGINS_CONFIG)
    config["netbox_hedgehog"].update(values)
    with override_settings(PLUGINS_CONFIG=config):
        yield config["netbox_hedgehog"]


@contextmanager
def queues_on_port(port: int):
    """Every RQ queue on the Redis at 127.0.0.1:`port` (database 0): one of a test's own, or a port
    nothing listens on (Redis down)."""
    queues = copy.deepcopy(django_settings.RQ_QUEUES)
    for params in queues.values():
        params.pop("URL", None)
        params.update({"HOST": "127.0.0.1", "PORT": port, "DB": 0})
    with override_settings(RQ_QUEUES=queues):
        yield


@contextmanager
def queues_in_database(db: int):
    """Every RQ queue in database `db` of the configured Redis."""
    queues = copy.deepcopy(django_settings.RQ_QUEUES)
    for params in queues.values():
        params.pop("URL", None)
        params["DB"] = db
    with override_settings(RQ_QUEUES=queues):
        yield
