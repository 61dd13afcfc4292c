"""Fault injection: Status errors (5xx, 429...), malformed JSON, dropped connections, latency.

Each fault matches requests by HTTP method, Kubernetes verb and a path pattern, for a number of
requests or until cleared. Latency delays matching answers, or holds them forever (``math.inf``,
for client timeouts). Faults apply after authentication (a request with a bad token still gets 401)
and before anything is served or changed. A cluster that accepts connections and never answers at
all is ``server.BlackHole``; one that refuses them is ``server.closed_port_url()``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
from collections.abc import Callable, Iterable

import kmock
from aiohttp import web

from .errors import STATUS_REASONS, status_body
from .objects import encode


@dataclasses.dataclass
class Fault:
    kind: str  # "status", "malformed", "disconnect"; "latency" only says where latency applies
    remaining: int | None  # None: until cleared
    status: int = 500
    reason: str | None = None
    message: str | None = None
    headers: dict[str, str] | None = None
    methods: frozenset[str] | None = None
    verbs: frozenset[str] | None = None
    path: re.Pattern[str] | None = None

    def matches(self, request: kmock.Request, verb: str) -> bool:
        return (
            (self.methods is None or str(request.method.value).upper() in self.methods)
            and (self.verbs is None or verb in self.verbs)
            and (self.path is None or self.path.search(request.url.path) is not None)
        )


def _as_set(value: str | Iterable[str] | None, transform: Callable[[str], str]) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(transform(v) for v in ([value] if isinstance(value, str) else value))


def make_fault(
    kind: str,
    count: int | None,
    *,
    method: str | Iterable[str] | None = None,
    verb: str | Iterable[str] | None = None,
    path: str | None = None,
    **fields: object,
) -> Fault:
    """A fault for ``count`` requests (None: until cleared) matching method, verb and path pattern."""
    return Fault(
        kind,
        count,
        methods=_as_set(method, str.upper),
        verbs=_as_set(verb, str.lower),
        path=re.compile(path) if path else None,
        **fields,  # type: ignore[arg-type]
    )


class Faults:
    """The faults pending on one cluster, and its latency."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []
        self.latency: tuple[float, Fault] | None = None

    def add(self, fault: Fault) -> None:
        self.pending.append(fault)

    def set_latency(self, seconds: float, where: Fault) -> None:
        self.latency = None if seconds <= 0 else (seconds, where)

    def clear(self) -> None:
        self.pending.clear()
        self.latency = None

    async def delay(self, request: kmock.Request, verb: str) -> None:
        """The server accepts the connection but answers late, or never (math.inf)."""
        if self.latency is not None:
            seconds, where = self.latency
            if where.matches(request, verb):
                if math.isinf(seconds):
                    await asyncio.Event().wait()  # until the client gives up or the server stops
                else:
                    await asyncio.sleep(seconds)

    def take(self, request: kmock.Request, verb: str) -> Fault | None:
        """The first pending fault matching the request, counted down (and gone when spent)."""
        for fault in self.pending:
            if fault.matches(request, verb):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.pending.remove(fault)
                return fault
        return None


def render(request: kmock.Request, fault: Fault) -> web.StreamResponse:
    """The answer of a faulty server."""
    if fault.kind == "disconnect":
        if request._raw_request is not None and request._raw_request.transport is not None:
            request._raw_request.transport.abort()
        return web.Response(status=500)  # never reaches the client
    if fault.kind == "malformed":
        body = b'{"kind": "Status", "apiVersion": "v1", "metadata": {}, "items": [{"meta'
        return web.Response(body=body, status=fault.status, content_type="application/json")
    reason = fault.reason or STATUS_REASONS.get(fault.status, "Unknown")
    message = fault.message or f"injected fault: {fault.status} {reason}"
    return web.Response(
        body=encode(status_body(fault.status, reason, message)),
        status=fault.status,
        content_type="application/json",
        headers=fault.headers,
    )
