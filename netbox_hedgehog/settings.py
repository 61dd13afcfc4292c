"""The plugin's settings (PLUGINS_CONFIG["netbox_hedgehog"]), read and checked in one place."""

from netbox.plugins import get_plugin_config

PLUGIN = "netbox_hedgehog"


def get(name):
    return get_plugin_config(PLUGIN, name)


def _positive_int(name):
    value = get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, not {value!r}.")


def validate():
    """Raise ValueError naming the first bad setting; called from the app's ready()."""
    _positive_int("history_page_size")
