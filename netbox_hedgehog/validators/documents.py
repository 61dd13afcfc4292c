"""Limits on JSON documents a user gives (desired specs and labels).

A Hedgehog spec is a few levels deep and a few KB; Kubernetes stores at most ~1.5 MB per object.
A document far beyond that is a mistake or an attack (a 5,000-deep one exhausted the recursion of
every walk over it): it is refused with a message, before anything walks it recursively.
"""

import json

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_DEPTH = 32
MAX_BYTES = 1024 * 1024


def depth(value) -> int:
    """How deeply a JSON value nests (a scalar is 0, {} or [] is 1); iterative, so never recursing."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            deepest = max(deepest, level)
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_DEPTH:
            return deepest  # deep enough to refuse: no need to walk the rest
        stack.extend((child, level + 1) for child in children)
    return deepest


def has_nul(value) -> bool:
    """Whether a NUL character is in any text of a JSON value (PostgreSQL's jsonb cannot hold one)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def validate_document(value, what="The document"):
    """Refuse a JSON value nested deeper than MAX_DEPTH, larger than MAX_BYTES once serialized, or
    holding a NUL character."""
    if depth(value) > MAX_DEPTH:
        raise ValidationError(
            _("{what} is nested more than {limit} levels deep.").format(what=what, limit=MAX_DEPTH),
            code="too_deep",
        )
    if has_nul(value):
        raise ValidationError(
            _("{what} holds a NUL character (\\u0000), which cannot be stored.").format(what=what),
            code="invalid",
        )
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError):
        raise ValidationError(
            _("{what} must hold only JSON values.").format(what=what), code="invalid"
        ) from None
    if size > MAX_BYTES:
        raise ValidationError(
            _("{what} is larger than {limit} KiB.").format(what=what, limit=MAX_BYTES // 1024),
            code="too_large",
        )
