"""Reading an HTTP request as the API server does: the API path (group, version, namespace,
resource, name, subresource), the Kubernetes verb, headers, the JSON body (the official client and
kubectl send JSON, apply configurations included)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import kmock
from aiohttp import web


def header(request: kmock.Request, name: str) -> str:
    """A request header, by case-insensitive name ('' when absent)."""
    name = name.lower()
    for key, value in request.headers.items():
        if key.lower() == name:
            return value
    return ""


def parse_api_path(
    path: str,
) -> tuple[str | None, str | None, str | None, str | None, str | None, str | None]:
    """Split an API path into (group, version, namespace, plural, name, subresource).

    ``group`` is None for non-resource paths (``/version``, ``/api``, ``/apis``); the core group is ''.
    Unlike kmock 0.8's parser this handles ``/api/v1/namespaces[/name[/status]]``.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] not in ("api", "apis"):
        return (None, None, None, None, None, None)
    if parts[0] == "api":
        group, rest = "", parts[1:]
    else:
        group, rest = parts[1], parts[2:]
        if not rest:
            return (group, None, None, None, None, None)
    version, rest = rest[0], rest[1:]
    namespace = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0] if rest else None
    name = rest[1] if len(rest) > 1 else None
    subresource = "/".join(rest[2:]) or None
    return (group, version, namespace, plural, name, subresource)


async def parse_request(raw_request: web.BaseRequest, request_id: int) -> kmock.Request:
    """kmock's request model of an HTTP request, with the API path parsed as Kubernetes does."""
    body = await raw_request.read()
    text = body.decode("utf-8", "replace")
    data: Any = None
    if body:
        with contextlib.suppress(ValueError):  # not JSON: the handlers refuse it (400, 422)
            data = json.loads(body)
    group, version, namespace, plural, name, subresource = parse_api_path(raw_request.path)
    resource = None if group is None else kmock.resource(group=group, version=version, plural=plural)
    action = None
    if plural is not None:
        method = raw_request.method.upper()
        if method == "GET":
            watch = raw_request.query.get("watch") in ("true", "1")
            action = kmock.action.WATCH if watch else kmock.action.FETCH if name else kmock.action.LIST
        elif method == "POST":
            action = kmock.action.CREATE
        elif method in ("PUT", "PATCH") and name:
            action = kmock.action.UPDATE
        elif method == "DELETE" and name:
            action = kmock.action.DELETE
    return kmock.Request(
        id=request_id,
        raw_request=raw_request,
        url=raw_request.url,
        method=raw_request.method,
        params=dict(raw_request.query),
        headers=dict(raw_request.headers),
        cookies=dict(raw_request.cookies),
        body=body,
        text=text,
        data=data,
        action=action,
        resource=resource,
        namespace=namespace,
        name=name,
        subresource=subresource,
    )


def verb_of(request: kmock.Request) -> str:
    """The Kubernetes verb of a request (get, list, watch, create, update, patch, delete,
    deletecollection), or the lower-case HTTP method for non-resource paths."""
    method = str(request.method.value).upper()
    if request.resource is None or request.resource.plural is None:
        return method.lower()
    if method == "GET":
        return "watch" if request.params.get("watch") in ("true", "1") else "get" if request.name else "list"
    if method == "DELETE":
        return "delete" if request.name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())
