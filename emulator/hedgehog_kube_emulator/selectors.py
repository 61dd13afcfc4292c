"""Label selectors (equality and set-based) and field selectors (metadata.name, metadata.namespace, as
for custom resources), compiled into predicates over objects; used by lists, watches and
deletecollection."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import api_error

_SET_REQUIREMENT = re.compile(r"\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)\s*")
_LABEL_REQUIREMENT = re.compile(r"\s*(!?)\s*([^\s!=(),]+)\s*(?:(==|=|!=)\s*([^\s!=(),]*))?\s*")

Selector = Callable[[Mapping[str, Any]], bool]


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside parentheses: ``a in (x,y),b`` -> ``['a in (x,y)', 'b']``."""
    terms, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current.append(char)
    terms.append("".join(current))
    return [term for term in terms if term.strip()]


def parse_label_selector(text: str) -> Selector | None:
    """Compile a label selector (equality and set-based) into a predicate over objects."""
    if not text or not text.strip():
        return None
    checks: list[Callable[[Mapping[str, str]], bool]] = []
    for term in _split_top_level(text):
        if match := _SET_REQUIREMENT.fullmatch(term):
            key, op, raw = match.group(1), match.group(2), match.group(3)
            values = {v.strip() for v in raw.split(",") if v.strip()}
            if op == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif match := _LABEL_REQUIREMENT.fullmatch(term):
            negated, key, op, value = match.groups()
            if negated and op:
                raise ValueError(f"unable to parse requirement: {term.strip()!r}")
            if negated:
                checks.append(lambda labels, k=key: k not in labels)
            elif op is None:
                checks.append(lambda labels, k=key: k in labels)
            elif op == "!=":
                checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
        else:
            raise ValueError(f"unable to parse requirement: {term.strip()!r}")

    def selector(obj: Mapping[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return selector


def parse_field_selector(text: str) -> Selector | None:
    """Compile a field selector; custom resources support metadata.name and metadata.namespace."""
    if not text or not text.strip():
        return None
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for term in _split_top_level(text):
        match = re.fullmatch(r"\s*([A-Za-z.]+)\s*(==|=|!=)\s*(\S*)\s*", term)
        if not match:
            raise ValueError(f"invalid field selector: {term.strip()!r}")
        field, op, value = match.groups()
        if field not in ("metadata.name", "metadata.namespace"):
            raise ValueError(
                f'"{field}" is not a known field selector: only "metadata.name", "metadata.namespace"'
            )
        attr = field.split(".", 1)[1]
        if op == "!=":
            checks.append(lambda meta, a=attr, v=value: (meta.get(a) or "") != v)
        else:
            checks.append(lambda meta, a=attr, v=value: (meta.get(a) or "") == v)

    def selector(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata", {})
        return all(check(meta) for check in checks)

    return selector


def request_selectors(params: Mapping[str, str]) -> tuple[Selector, ...]:
    """The selectors of a request's ``labelSelector`` and ``fieldSelector``; 400 when one is invalid."""
    try:
        selectors = (
            parse_label_selector(params.get("labelSelector", "")),
            parse_field_selector(params.get("fieldSelector", "")),
        )
    except ValueError as exc:
        raise api_error(400, str(exc)) from exc
    return tuple(s for s in selectors if s is not None)
