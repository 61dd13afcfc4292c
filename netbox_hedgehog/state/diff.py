"""Field-level comparison of a desired spec with what the cluster has.

Only what the desired state sets is compared: what the API server and Hedgehog's mutating
webhooks add (metadata, defaulted fields, fabric.githedgehog.com/ labels) is never drift. Declared
ignore rules (JSON pointers, "*" matching any one key or index) drop more paths.
"""

MISSING = object()


def _pointer(parts) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts) if parts else "/"


def _ignored(parts, rules) -> bool:
    for rule in rules:
        pattern = [p for p in rule.strip("/").split("/") if p != ""]
        if len(pattern) <= len(parts) and all(
            p == "*" or p.replace("~1", "/").replace("~0", "~") == str(part)
            for p, part in zip(pattern, parts, strict=False)
        ):
            return True
    return False


def diff(desired, actual, ignore=(), _parts=()):
    """The differences as a list of {"path", "desired", "actual"} (actual None when absent)."""
    if _ignored(_parts, ignore):
        return []
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return [_entry(_parts, desired, actual)]
        out = []
        for key, value in desired.items():
            out += diff(value, actual.get(key, MISSING), ignore, (*_parts, key))
        return out
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired):
            return [_entry(_parts, desired, actual)]
        out = []
        for index, (want, have) in enumerate(zip(desired, actual, strict=True)):
            out += diff(want, have, ignore, (*_parts, index))
        return out
    if desired is None and actual in (None, MISSING):
        return []  # null in a desired spec means "absent" (a merge patch deletes the key)
    if actual is MISSING or desired != actual or type(desired) is not type(actual):
        return [_entry(_parts, desired, actual)]
    return []


def _entry(parts, desired, actual):
    return {"path": _pointer(parts), "desired": desired, "actual": None if actual is MISSING else actual}


def resource_diff(desired_spec, desired_labels, actual_spec, actual_labels, ignore=()):
    """The differences of one resource: its spec, and the labels NetBox sets.

    `ignore` holds JSON pointers from the object's root: "/spec/..." or "/metadata/labels/<key>".
    """
    spec_rules = [rule[len("/spec") :] for rule in ignore if rule.startswith("/spec/")]
    label_rules = [rule[len("/metadata/labels") :] for rule in ignore if rule.startswith("/metadata/labels/")]
    out = [
        {**d, "path": "/spec" + (d["path"] if d["path"] != "/" else "")}
        for d in diff(desired_spec or {}, actual_spec if actual_spec is not None else {}, spec_rules)
    ]
    for key, value in sorted((desired_labels or {}).items()):
        if _ignored((key,), label_rules):
            continue
        have = (actual_labels or {}).get(key, MISSING)
        if have is MISSING or have != value:
            out.append(
                {
                    "path": "/metadata/labels/" + key.replace("~", "~0").replace("/", "~1"),
                    "desired": value,
                    "actual": None if have is MISSING else have,
                }
            )
    return out
