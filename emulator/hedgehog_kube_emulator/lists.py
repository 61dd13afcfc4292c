"""LIST: pages in (namespace, name) order with ``limit`` and continue tokens, selectors applied.

Every page of a list reports the first page's resourceVersion. A continue page reads the current
state after the last key served (an object deleted behind the cursor is not repeated, one added
ahead appears): not a snapshot, but what a client following tokens can observe on a real server too.
A token older than the store's compaction answers 410 Expired, with a fresh token to go on
inconsistently, as a real server does after etcd compaction.
"""

from __future__ import annotations

import base64
import bisect
import json
from typing import Any

from .errors import api_error
from .objects import encode
from .selectors import Selector
from .store import Store, Table


def list_page(
    store: Store,
    table: Table,
    namespace: str | None,
    selectors: tuple[Selector, ...] = (),
    limit: str | int | None = None,
    continue_token: str | None = None,
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """One page of a list: the keys of its items in (namespace, name) order, and the list metadata."""
    try:
        page_size = int(limit or 0)
    except ValueError as exc:
        raise api_error(400, f"invalid limit {limit!r}") from exc
    list_rv = store.resource_version
    lo, hi = table.key_range(namespace)
    start = lo
    if continue_token:
        try:
            token = json.loads(base64.urlsafe_b64decode(continue_token.encode()))
            list_rv, after = int(token["rv"]), tuple(token["start"])
        except (ValueError, KeyError, TypeError) as exc:
            raise api_error(400, "continue key is not valid: " + repr(exc)) from exc
        if store.continue_expired(list_rv):
            # As a real server after etcd compaction: 410, with a token to continue inconsistently.
            fresh = encode_continue_token(store.resource_version, after)
            raise api_error(
                410,
                "The provided continue parameter is too old to display a consistent list result. You can "
                "start a new list without the continue parameter, or use the continue token in this "
                "response to retrieve the remainder of the results. Continuing with the provided token "
                "results in an inconsistent list - objects that were created, modified, or deleted "
                "between the time the first chunk was returned and now may show up in the list.",
                "Expired",
                **{"continue": fresh},
            )
        start = max(lo, bisect.bisect_right(table.keys, after, lo, hi))
    keys, objects = table.keys, table.objects
    items: list[tuple[str, str]] = []
    meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
    for index in range(start, hi):
        if selectors and not all(selector(objects[keys[index]]) for selector in selectors):
            continue
        items.append(keys[index])
        if page_size > 0 and len(items) == page_size:
            rest = range(index + 1, hi)
            if not selectors:
                more = len(rest) > 0
                if more:
                    meta["remainingItemCount"] = len(rest)
            else:
                more = any(all(s(objects[keys[i]]) for s in selectors) for i in rest)
            if more:
                meta["continue"] = encode_continue_token(list_rv, keys[index])
            break
    return items, meta


def encode_continue_token(rv: int, after: tuple[str, str]) -> str:
    """An opaque token: continue after the key ``after``, in the list at resourceVersion ``rv``."""
    token = {"v": "meta.k8s.io/v1", "rv": rv, "start": list(after)}
    return base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()


def encode_list(table: Table, keys: list[tuple[str, str]], meta: dict[str, Any]) -> bytes:
    """The JSON of a list answer, joined from the items' stored encodings."""
    rtype = table.rtype
    head = encode({"apiVersion": rtype.api_version, "kind": rtype.list_kind, "metadata": meta})
    items = b",".join(table.encoded[key] for key in keys)
    return head[:-1] + b',"items":[' + items + b"]}"
