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
