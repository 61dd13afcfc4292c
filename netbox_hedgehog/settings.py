"""The plugin's settings (PLUGINS_CONFIG["netbox_hedgehog"]), read and checked in one place."""

import binascii
import ipaddress
from base64 import urlsafe_b64decode

from netbox.plugins import get_plugin_config

PLUGIN = "netbox_hedgehog"


def get(name):
    return get_plugin_config(PLUGIN, name)


GENERATE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


def validate_keys(value):
    """Raise ValueError saying what is wrong with a credentials_key setting (never echoing it)."""
    how = f"Generate one with: {GENERATE_KEY}"
    if value in (None, "", []):
        raise ValueError(f"credentials_key is not set: it encrypts cluster credentials at rest. {how}")
    keys = [value] if isinstance(value, str) else value
    if not isinstance(keys, (list, tuple)):
        raise ValueError(f"credentials_key must be a key or a list of keys. {how}")
    for i, key in enumerate(keys):
        try:
            ok = isinstance(key, str) and len(urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise ValueError(
                f"credentials_key #{i + 1} is not a Fernet key (32 url-safe base64-encoded bytes). {how}"
            )


def validate_networks(value):
    """Raise ValueError saying what is wrong with a blocked_networks setting."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"blocked_networks must be a list of networks such as '127.0.0.0/8', not {value!r}.")
    for item in value:
        try:
            if not isinstance(item, str):
                raise TypeError(item)
            ipaddress.ip_network(item, strict=False)
        except (TypeError, ValueError):
            raise ValueError(f"blocked_networks: {item!r} is not a network such as '127.0.0.0/8'.") from None


def drift_ignore_rules(kind: str) -> list[str]:
    """The declared drift ignore rules for a kind: the "*" rules plus the kind's own."""
    rules = get("drift_ignore") or {}
    return [*rules.get("*", ()), *rules.get(kind, ())]


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
    for name in (
        "history_page_size",
        "health_check_interval",
        "health_check_workers",
        "health_check_batch_size",
        "sync_page_size",
    ):
        _positive_int(name)
    for name in (
        "connect_timeout",
        "request_timeout",
        "retry_backoff_base",
        "retry_backoff_max",
        "stale_test_after",
        "stale_sync_after",
        "maintenance_review_after",
        "sync_retry_base",
        "sync_retry_max",
        "auto_reconcile_interval",
        "switch_stale_after",
        "switch_apply_pending_after",
        "argocd_poll_interval",
    ):
        _positive_number(name)
    for name in ("retry_backoff_factor", "sync_retry_factor"):
        if get(name) < 1:
            raise ValueError(f"{name} must be at least 1.")
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
    validate_networks(get("blocked_networks"))
    validate_keys(get("credentials_key"))
