"""The state of one resource from what NetBox wants and what the cluster has (pure)."""

from .. import settings
from ..choices import ResourceSyncStateChoices as S
from .diff import resource_diff

# Labels the Hedgehog webhooks put on objects: never adopted as desired, never compared.
SYSTEM_LABEL_PREFIXES = ("fabric.githedgehog.com/",)


def user_labels(labels: dict) -> dict:
    return {k: v for k, v in (labels or {}).items() if not k.startswith(SYSTEM_LABEL_PREFIXES)}


def ignore_rules(kind: str) -> list[str]:
    """The declared ignore rules for a kind: the "*" rules plus the kind's own (see settings)."""
    rules = settings.get("drift_ignore") or {}
    return [*rules.get("*", ()), *rules.get(kind, ())]


def compare(kind: str, read_only: bool, desired_spec, desired_labels, actual_spec, actual_labels):
    """(sync_state, diff) of one resource."""
    if read_only:
        return (S.IN_SYNC, []) if actual_spec is not None else (S.MISSING, [])
    if desired_spec is None:
        return (S.EXTRA, []) if actual_spec is not None else (S.MISSING, [])
    if actual_spec is None:
        return S.MISSING, []
    if desired_spec == actual_spec and all(
        (actual_labels or {}).get(k) == v for k, v in (desired_labels or {}).items()
    ):
        return S.IN_SYNC, []  # the common case (an import, an unchanged object), without walking the spec
    changes = resource_diff(desired_spec, desired_labels, actual_spec, actual_labels, ignore_rules(kind))
    return (S.DRIFTED if changes else S.IN_SYNC), changes
