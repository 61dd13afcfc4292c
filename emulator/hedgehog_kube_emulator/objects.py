"""Objects as the store keeps them: plain JSON documents, never mutated once stored (a change stores a
new dict), so each is encoded once. Copies, encoding, keys and timestamps."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Mapping
from typing import Any

_clock: tuple[int, str] = (0, "")  # a second and its RFC 3339 text: formatting is slow, writes are many


def now() -> str:
    """The current time as the API server writes it (RFC 3339, whole seconds, UTC)."""
    global _clock
    clock, second = _clock, int(time.time())
    if clock[0] != second:
        clock = (second, datetime.datetime.fromtimestamp(second, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        _clock = clock
    return clock[1]


def _json_default(value: Any) -> Any:
    # YAML turns unquoted timestamps into datetimes; the API speaks RFC 3339 strings.
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"not JSON-serialisable: {value!r}")


def clone(obj: Any) -> Any:
    """A deep copy that is also plain JSON (faster than copy.deepcopy for these documents)."""
    return json.loads(json.dumps(obj, default=_json_default))


def encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def obj_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    """(namespace, name); the namespace is '' for cluster-scoped objects."""
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def spec_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Everything whose change bumps metadata.generation: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
