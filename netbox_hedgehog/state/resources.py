"""The sync state of one resource, and of a fabric's resources taken together (pure).

A resource compares what NetBox wants (its desired spec and labels; none when NetBox does not
manage it) with what the cluster has (its actual spec and labels; none when absent). The fabric is
in sync only when every one of its resources is (docs/sync.md).
"""

from .diff import resource_diff

IN_SYNC, DRIFTED, MISSING, EXTRA, ERROR = "in_sync", "drifted", "missing", "extra", "error"
SYNC_STATES = (IN_SYNC, DRIFTED, MISSING, EXTRA, ERROR)

# Labels the Hedgehog webhooks put on objects: never adopted as desired, never compared.
SYSTEM_LABEL_PREFIXES = ("fabric.githedgehog.com/",)


def user_labels(labels: dict) -> dict:
    return {k: v for k, v in (labels or {}).items() if not k.startswith(SYSTEM_LABEL_PREFIXES)}


def compare(read_only: bool, desired_spec, desired_labels, actual_spec, actual_labels, ignore=()):
    """(sync_state, diff) of one resource; `ignore` holds the JSON pointers not to compare."""
    if read_only:
        return (IN_SYNC, []) if actual_spec is not None else (MISSING, [])
    if desired_spec is None:
        return (EXTRA, []) if actual_spec is not None else (MISSING, [])
    if actual_spec is None:
        return MISSING, []
    if desired_spec == actual_spec and all(
        (actual_labels or {}).get(k) == v for k, v in (desired_labels or {}).items()
    ):
        return IN_SYNC, []  # the common case (an import, an unchanged object), without walking the spec
    changes = resource_diff(desired_spec, desired_labels, actual_spec, actual_labels, ignore)
    return (DRIFTED if changes else IN_SYNC), changes


def counts_of(pairs) -> dict:
    """{sync state: count} with every state present (zeros included), from (state, n) pairs."""
    found = dict(pairs)
    return {state: int(found.get(state, 0)) for state in SYNC_STATES}


def aggregate(counts: dict) -> str:
    """The fabric's sync status its resources call for: in_sync only when every resource is in sync.

    Any drifted, missing, extra or errored resource makes the fabric out_of_sync. This is the one
    place the rule lives (docs/sync.md).
    """
    return "in_sync" if sum(n for state, n in counts.items() if state != IN_SYNC) == 0 else "out_of_sync"


def describe(counts: dict) -> str:
    parts = [f"{n} {state.replace('_', ' ')}" for state, n in counts.items() if n and state != IN_SYNC]
    return ", ".join(parts) or "every resource in sync"
