"""The plugin's settings (PLUGINS_CONFIG["netbox_hedgehog"]), read and checked in one place."""

from netbox.plugins import get_plugin_config

PLUGIN = "netbox_hedgehog"


def get(name):
    return get_plugin_config(PLUGIN, name)


def _positive_int(name):
    value = get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, not {value!r}.")


def _positive_number(name):
    value = get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive number, not {value!r}.")


def validate():
    """Raise ValueError naming the first bad setting; called from the app's ready()."""
    from .credentials import validate_keys

    for name in ("history_page_size", "health_check_interval", "health_check_workers", "sync_page_size"):
        _positive_int(name)
    for name in (
        "connect_timeout",
        "request_timeout",
        "retry_backoff_base",
        "retry_backoff_max",
        "stale_test_after",
        "stale_sync_after",
    ):
        _positive_number(name)
    if get("retry_backoff_factor") < 1:
        raise ValueError("retry_backoff_factor must be at least 1.")
    if not 0 <= get("retry_jitter") < 1:
        raise ValueError("retry_jitter must be a fraction between 0 and 1.")
    rules = get("drift_ignore")
    if not isinstance(rules, dict) or not all(
        isinstance(k, str)
        and isinstance(v, (list, tuple))
        and all(isinstance(p, str) and p.startswith("/") for p in v)
        for k, v in rules.items()
    ):
        raise ValueError(
            'drift_ignore must map a kind (or "*") to a list of JSON pointers starting with "/".'
        )
    validate_keys(get("credentials_key"))
