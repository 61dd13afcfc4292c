"""WATCH: a stream of ADDED/MODIFIED/DELETED events for one resource, by namespace, name and selectors.

Without a resourceVersion (or "0") the stream starts with the current objects as ADDED; from a
resourceVersion it replays the store's history after it, and answers an ERROR event with a 410
Expired Status once that history has been compacted past it (the client then lists again). From a
resourceVersion the store has not reached (a client that saw a cluster since restored to an older
state, see ``EmulatedCluster.restart``) it waits up to ``too_large_wait`` seconds for it, as a real
API server's watch cache does, then answers an ERROR event with a 504 Timeout Status, "Too large
resource version", cause ResourceVersionTooLarge. An object
whose change moves it into or out of a selector is ADDED or DELETED for that watcher. The stream
ends after ``timeoutSeconds``, when the client leaves, or on ``Store.close_watches()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

import kmock
from aiohttp import web

from .errors import api_error, status_body
from .objects import obj_key
from .selectors import Selector
from .store import Event, Store, Table


def event_line(kind: str, data: bytes) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + data + b"}\n"


class Watcher:
    """One open watch: what it selects, and the queue of event lines waiting to be written."""

    def __init__(
        self, table: Table, namespace: str | None, name: str | None, selectors: tuple[Selector, ...]
    ) -> None:
        self.table, self.namespace, self.name, self.selectors = table, namespace, name, selectors
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def matches(self, obj: Mapping[str, Any] | None) -> bool:
        if obj is None:
            return False
        namespace, name = obj_key(obj)
        return (
            (self.namespace is None or namespace == self.namespace)
            and (self.name is None or name == self.name)
            and all(selector(obj) for selector in self.selectors)
        )

    def translate(self, event: Event) -> bytes | None:
        """The event line this watcher sends: objects moving in or out of a selector are added/deleted."""
        if event.table is not self.table:
            return None
        now = self.matches(event.obj)
        if event.type == "MODIFIED":
            before = self.matches(event.old)
            kind = "MODIFIED" if now and before else "ADDED" if now else "DELETED" if before else None
        else:
            kind = event.type if now else None
        return None if kind is None else event_line(kind, event.data)

    def offer(self, event: Event) -> None:
        """A change was stored: queue its line if this watcher sees it."""
        if line := self.translate(event):
            self.queue.put_nowait(line)

    def close(self) -> None:
        self.queue.put_nowait(None)


async def serve_watch(
    store: Store,
    request: kmock.Request,
    table: Table,
    selectors: tuple[Selector, ...],
    default_timeout: float,
    too_large_wait: float = 3.0,
) -> web.StreamResponse:
    params = request.params
    try:
        timeout = float(params.get("timeoutSeconds") or default_timeout)
        since = params.get("resourceVersion") or ""
        since_rv = int(since) if since else None
    except ValueError as exc:
        raise api_error(400, f"invalid watch parameter: {exc}") from exc
    watcher = Watcher(table, request.namespace, request.name, selectors)
    if since_rv is not None and since_rv > store.resource_version:
        # The watch cache waits for the version to arrive, then gives up (the client relists).
        deadline = asyncio.get_running_loop().time() + too_large_wait
        while store.resource_version < since_rv and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
    too_large = since_rv is not None and since_rv > store.resource_version
    # Snapshot and registration happen with no await in between: no event can fall in the gap.
    expired = since_rv is not None and since_rv != 0 and since_rv < store.compacted_rv
    backlog: list[bytes] = []
    if not expired and not too_large:
        if not since_rv:  # "" or "0": the current state as ADDED events, then the changes
            lo, hi = table.key_range(request.namespace)
            for key in table.keys[lo:hi]:
                if watcher.matches(table.objects[key]):
                    backlog.append(event_line("ADDED", table.encoded[key]))
        else:
            for event in store.history:
                if event.rv > since_rv and (translated := watcher.translate(event)):
                    backlog.append(translated)
        store.watchers.add(watcher)

    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    assert request._raw_request is not None
    try:
        await response.prepare(request._raw_request)
        if expired:
            message = f"too old resource version: {since_rv} ({store.compacted_rv + 1})"
            event = {"type": "ERROR", "object": status_body(410, "Expired", message)}
            await response.write(json.dumps(event).encode() + b"\n")
            await response.write_eof()
            return response
        if too_large:
            message = f"Timeout: Too large resource version: {since_rv}, current: {store.resource_version}"
            causes = [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]
            body = status_body(504, "Timeout", message, {"causes": causes, "retryAfterSeconds": 1})
            await response.write(json.dumps({"type": "ERROR", "object": body}).encode() + b"\n")
            await response.write_eof()
            return response
        for start in range(0, len(backlog), 500):  # a replay of 10k objects: written in chunks
            await response.write(b"".join(backlog[start : start + 500]))
        async with asyncio.timeout(timeout):
            while (line := await watcher.queue.get()) is not None:
                await response.write(line)
    except (TimeoutError, ConnectionError):
        pass  # timeoutSeconds elapsed, or the client went away
    finally:
        store.watchers.discard(watcher)
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response
