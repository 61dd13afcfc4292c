"""The HTTP side of the emulated API server: every request, from the socket to its answer.

``HedgehogEmulator`` subclasses kmock's ``KubernetesEmulator`` (kmock 0.8, pinned: its API is v0).
From kmock it keeps the request model (``kmock.Request``), the DSL for user-defined reactions (a test
can still write ``cluster.call(lambda k: k['get /version'] << 500)``; such reactions take precedence
over the emulated API), the ``KubernetesError`` Status type and the ``objects`` view (a snapshot of
the current state, one version per object, for kmock's pattern assertions). It replaces kmock's
default reactions by its own routing, because those (measured, see the project notes) serve
``/api/``, ``/apis/``, ``/version/`` with 404, answer 200 on create, ignore ``limit``/``continue``,
selectors, ``resourceVersion``, ``dryRun`` and watch timeouts, answer PUT with 404, apply a POST before
any rule (so no auth can be checked first), mis-parse ``/api/v1/namespaces``, and keep the status of
the last response a reaction returned. kmock's per-request records are dropped once a request is
answered (they slow every request down linearly otherwise).

A request goes: latency (``faults``), authentication (``auth``), injected faults, kmock DSL
reactions, then discovery (``discovery``) or a verb on a resource: get, list (``lists``), watch
(``watch``), create, update (PUT), patch (merge, JSON, a simplified apply), delete,
deletecollection, each with ``dryRun=All``; the status subresource. What is stored is the store's
(``store``); what the server adds to a written object is ``metadata``'s.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

import attrs
import kmock
from aiohttp import web

from .auth import authorize
from .catalogue import ResourceType
from .discovery import discovery_document
from .errors import api_error, conflict, no_such_resource, status_body
from .faults import Faults
from .faults import render as render_fault
from .lists import encode_list, list_page
from .metadata import check_kind, updated_object
from .objects import encode, obj_key
from .patches import json_patch, merge_patch
from .request import header, parse_request, verb_of
from .selectors import request_selectors
from .store import Store, Table
from .watch import serve_watch

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    """A request the emulator answered, for assertions (``cluster.requests``)."""

    method: str
    path: str
    params: dict[str, str]
    verb: str
    status: int
    seconds: float


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    data = body if isinstance(body, bytes) else encode(body)
    return web.Response(body=data, status=status, content_type="application/json", headers=headers)


@attrs.define(kw_only=True)
class HedgehogEmulator(kmock.KubernetesEmulator):
    """kmock's KubernetesEmulator with its gaps closed; see the module docstring.

    Runs on one event loop: every method not marked async must be called on that loop's thread
    (``EmulatedCluster`` does this for tests).
    """

    token: str | None = None
    resource_types: tuple[ResourceType, ...] = ()
    history_size: int = 5000
    watch_timeout: float = 1800.0
    # A watch from a resourceVersion the store has not reached waits this long for it, then answers
    # 504 "Too large resource version" (a real API server's watch cache waits 3 s).
    too_large_wait: float = 3.0
    request_log_size: int = 1000
    server_address: str = "127.0.0.1:443"
    version_info: dict[str, str] = attrs.field(factory=dict)
    user: str = "system:serviceaccount:default:hedgehog"

    mode: str = attrs.field(default="ok", init=False)  # see auth.MODES
    errors: list[BaseException] = attrs.field(factory=list, init=False)
    request_log: collections.deque[RequestRecord] = attrs.field(factory=collections.deque, init=False)
    store: Store = attrs.field(init=False)
    faults: Faults = attrs.field(factory=Faults, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # kmock registered its default reactions (its simpler emulation); ours is the routing in
        # _handle_request(). What remains in the DSL are reactions that users add; they take precedence.
        self._payloads.clear()
        self.request_log = collections.deque(maxlen=self.request_log_size)
        self.store = Store(self.resource_types, history_size=self.history_size)

    # ---------------------------------------------------------------------------------- for tests

    @property
    def objects(self) -> kmock.ObjectsArray:
        """kmock's view of the stored objects, for its pattern assertions (``>=``, ``==``).

        A snapshot, one version per object, built on access; writing to it changes nothing.
        """
        view = kmock.ObjectsArray()
        for table in self.store.tables.values():
            for (namespace, name), obj in table.objects.items():
                view[table.kres, namespace or None, name] = obj
        return view

    def close_watches(self) -> None:
        """End every open watch stream (the clients see the end of the stream)."""
        self.store.close_watches()

    def clear_faults(self) -> None:
        """No pending faults, no latency, mode ``ok``."""
        self.faults.clear()
        self.mode = "ok"

    # ---------------------------------------------------------------------------------- requests

    async def __call__(self, raw_request: web.BaseRequest) -> web.StreamResponse:  # type: ignore[override]
        """Serve one HTTP request (the aiohttp entry point; replaces kmock's RawHandler.__call__)."""
        started = time.monotonic()
        try:
            request = await parse_request(raw_request, len(self._requests))
        except web.HTTPException as exc:  # e.g. a body over aiohttp's limit of 1 MiB
            return await self._render_error(api_error(exc.status, exc.reason))
        verb = verb_of(request)
        self._requests.append(request)  # visible to kmock's DSL views while in flight
        status = 500
        try:
            response = await self._handle_request(request, verb)
            status = response.status
            return response
        except kmock.KubernetesError as exc:
            status = exc.status
            return await self._render_error(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in the emulator or in a user reaction
            response = exc.args[0] if exc.args and isinstance(exc.args[0], web.StreamResponse) else None
            if response is not None and response.prepared:  # kmock's StreamingError: a stream broke
                with contextlib.suppress(ConnectionError):
                    await response.write_eof()
                return response
            log.exception("emulated Kubernetes API: %s %s failed", request.method.value, request.url.path)
            self.errors.append(exc)
            del self.errors[:-100]
            return await self._render_error(exc)
        finally:
            self._forget(request)
            method, path, params = str(request.method.value), request.url.path, dict(request.params)
            self.request_log.append(
                RequestRecord(method, path, params, verb, status, time.monotonic() - started)
            )
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s %s %s -> %s", method, path, params or "", verb, status)

    def _forget(self, request: kmock.Request) -> None:
        """Drop kmock's records of an answered request: kmock rescans them on every new request."""
        for records in [self._requests, *(payload._requests for payload in self._payloads)]:
            for index in range(len(records) - 1, -1, -1):
                if records[index] is request:
                    del records[index]
                    break

    async def _handle_request(self, request: kmock.Request, verb: str) -> web.StreamResponse:
        # 1. Latency: the server accepts the connection but answers late, or never (math.inf).
        await self.faults.delay(request, verb)
        # 2. Authentication and authorisation, before anything can change.
        authorize(request, verb, token=self.token, mode=self.mode, user=self.user)
        # 3. Injected faults.
        if (fault := self.faults.take(request, verb)) is not None:
            return render_fault(request, fault)
        # 4. Reactions that users added with kmock's DSL, then the emulated API.
        if self._payloads:
            with contextlib.suppress(NotImplementedError):  # kmock's "no reaction matched"
                return await kmock.RawHandler._handle(self, request)
        return await self._route(request, verb)

    async def _render_error(self, exc: Exception) -> web.StreamResponse:
        if isinstance(exc, kmock.KubernetesNotFoundError) and not exc.details:
            # kmock's own "not found" classes (from its discovery code) carry no Kubernetes reason.
            exc = no_such_resource()
        if isinstance(exc, kmock.KubernetesError):
            details = dict(exc.details) if isinstance(exc.details, dict) else exc.details
            token = details.pop("continue", None) if isinstance(details, dict) else None
            body = status_body(exc.status, exc.reason or "Unknown", exc.message or "", details)
            if token:  # an expired continue token: the Status carries one to go on inconsistently
                body["metadata"] = {"continue": token}
            return json_response(body, exc.status)
        return json_response(status_body(500, "InternalError", f"emulator error: {exc!r}"), 500)

    # ---------------------------------------------------------------------------------- routing

    async def _route(self, request: kmock.Request, verb: str) -> web.StreamResponse:
        resource = request.resource
        if resource is None or resource.plural is None:
            if verb != "get":
                raise api_error(405, f"the server does not allow this method on {request.url.path}")
            document = discovery_document(
                request.url.path,
                None if resource is None else resource.group,
                None if resource is None else resource.version,
                self.store.types.values(),
                version_info=self.version_info,
                server_address=self.server_address,
            )
            return json_response(document)
        table = self.store.tables.get((resource.group or "", resource.version or "", resource.plural))
        if table is None:
            raise no_such_resource()
        rtype = table.rtype
        if (request.namespace is not None and not rtype.namespaced) or (
            request.name is not None and rtype.namespaced and request.namespace is None
        ):
            raise no_such_resource()
        if request.subresource not in (None, "status") or (
            request.subresource == "status" and (not rtype.status_subresource or request.name is None)
        ):
            raise no_such_resource()
        handler = {
            "list": self._serve_list,
            "watch": self._serve_watch,
            "get": self._serve_get,
            "create": self._serve_create,
            "update": self._serve_replace,
            "patch": self._serve_patch,
            "delete": self._serve_delete,
            "deletecollection": self._serve_delete_collection,
        }.get(verb)
        if handler is None or (request.subresource and verb not in ("get", "update", "patch")):
            raise api_error(405, f"{verb} is not supported on {rtype.qualified}")
        return await handler(request, table)

    # ---------------------------------------------------------------------------------- reads

    async def _serve_get(self, request: kmock.Request, table: Table) -> web.StreamResponse:
        obj = self.store.find(table, request.namespace, request.name or "")
        return json_response(table.encoded[obj_key(obj)])

    async def _serve_list(self, request: kmock.Request, table: Table) -> web.StreamResponse:
        keys, meta = list_page(
            self.store,
            table,
            request.namespace,
            request_selectors(request.params),
            limit=request.params.get("limit"),
            continue_token=request.params.get("continue"),
        )
        return json_response(encode_list(table, keys, meta))

    async def _serve_watch(self, request: kmock.Request, table: Table) -> web.StreamResponse:
        selectors = request_selectors(request.params)
        return await serve_watch(
            self.store, request, table, selectors, self.watch_timeout, self.too_large_wait
        )

    # ---------------------------------------------------------------------------------- writes

    async def _serve_create(self, request: kmock.Request, table: Table) -> web.StreamResponse:
        if request.name is not None:
            raise api_error(405, f"POST is not supported on a named {table.rtype.singular}")
        body = _body(request)
        dry_run = _dry_run(request)
        check_kind(table.rtype, body)
        obj = self.store.create(table, request.namespace, body, manager=_manager(request), dry_run=dry_run)
        return json_response(obj, 201)

    async def _serve_replace(self, request: kmock.Request, table: Table) -> web.StreamResponse:
        rtype, name = table.rtype, request.name or ""
        body = _body(request)
        dry_run = _dry_run(request)
        check_kind(rtype, body)
        old = self.store.find(table, request.namespace, name)
        meta = body.get("metadata") or {}
        if meta.get("name", name) != name:
            raise api_error(
                400,
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})",
            )
        if not meta.get("resourceVersion"):
            raise api_error(
                422,
                f'{rtype.kind}.{rtype.group} "{name}" is invalid: metadata.resourceVersion: '
                "Invalid value: 0x0: must be specified for an update",
            )
        if meta["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(rtype, name)
        new = updated_object(
            rtype,
            old,
            body,
            subresource=request.subresource,
            manager=_manager(request),
        )
        return json_response(self.store.update(table, old, new, dry_run=dry_run))

    async def _serve_patch(self, request: kmock.Request, table: Table) -> web.StreamResponse:
        rtype, name = table.rtype, request.name or ""
        content_type = header(request, "Content-Type").split(";", 1)[0].strip().lower()
        dry_run = _dry_run(request)
        patch = request.data
        if content_type == "application/strategic-merge-patch+json":
            raise api_error(
                415,
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml",
            )
        if content_type == "application/apply-patch+yaml":
            # Simplified server-side apply: create if missing, else a merge patch (no field ownership).
            if not request.params.get("fieldManager"):
                raise api_error(400, "PATCH, application/apply-patch+yaml requires fieldManager to be set")
            if not isinstance(patch, dict):
                raise api_error(400, "the apply configuration is not an object")
            check_kind(rtype, patch)
            if (request.namespace or "", name) not in table.objects and request.subresource is None:
                body = merge_patch(patch, {"metadata": {"name": name}})
                obj = self.store.create(
                    table,
                    request.namespace,
                    body,
                    manager=request.params["fieldManager"],
                    dry_run=dry_run,
                    operation="Apply",
                )
                return json_response(obj, 201)
        old = self.store.find(table, request.namespace, name)
        if content_type == "application/json-patch+json":
            candidate = json_patch(old, patch)
            wanted_rv = (candidate.get("metadata") or {}).get("resourceVersion")
        elif content_type in ("application/merge-patch+json", "application/apply-patch+yaml"):
            if not isinstance(patch, dict):
                raise api_error(400, "a merge patch must be a JSON object")
            candidate = merge_patch(old, patch)
            wanted_rv = (patch.get("metadata") or {}).get("resourceVersion")
        else:
            raise api_error(415, f"unsupported patch content type {content_type!r}")
        if not isinstance(candidate, dict):
            raise api_error(422, "the patched object is not a JSON object")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise conflict(rtype, name)
        operation = "Apply" if content_type == "application/apply-patch+yaml" else "Update"
        new = updated_object(
            rtype,
            old,
            candidate,
            subresource=request.subresource,
            manager=_manager(request),
            operation=operation,
        )
        return json_response(self.store.update(table, old, new, dry_run=dry_run))

    async def _serve_delete(self, request: kmock.Request, table: Table) -> web.StreamResponse:
        options = request.data if isinstance(request.data, dict) else {}
        dry_run = _dry_run(request) or "All" in (options.get("dryRun") or [])
        obj = self.store.find(table, request.namespace, request.name or "")
        preconditions = options.get("preconditions") or {}
        for field in ("uid", "resourceVersion"):
            if preconditions.get(field) and preconditions[field] != obj["metadata"].get(field):
                raise api_error(
                    409,
                    f"Precondition failed: {field} in precondition: {preconditions[field]}, "
                    f"{field} in object meta: {obj['metadata'].get(field)}",
                    "Conflict",
                    group=table.rtype.group,
                    kind=table.rtype.plural,
                    name=obj["metadata"]["name"],
                )
        result = self.store.delete(table, obj, dry_run=dry_run)
        if result is not None:  # finalizers pending: the object stays, marked for deletion
            return json_response(result)
        rtype = table.rtype
        details = {
            "name": obj["metadata"]["name"],
            "group": rtype.group,
            "kind": rtype.plural,
            "uid": obj["metadata"]["uid"],
        }
        return json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
        )

    async def _serve_delete_collection(self, request: kmock.Request, table: Table) -> web.StreamResponse:
        options = request.data if isinstance(request.data, dict) else {}
        dry_run = _dry_run(request) or "All" in (options.get("dryRun") or [])
        keys, _ = list_page(self.store, table, request.namespace, request_selectors(request.params))
        deleted = []
        for obj in [table.objects[key] for key in keys]:
            result = self.store.delete(table, obj, dry_run=dry_run)
            deleted.append(obj if result is None else result)
        rtype = table.rtype
        return json_response(
            {
                "apiVersion": rtype.api_version,
                "kind": rtype.list_kind,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": deleted,
            }
        )


def _body(request: kmock.Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise api_error(400, "the request body is not a JSON object")
    return request.data


def _dry_run(request: kmock.Request) -> bool:
    dry_run = request.params.get("dryRun")
    if dry_run is not None and dry_run != "All":
        raise api_error(400, f'unsupported dryRun value "{dry_run}": only "All" is supported')
    return dry_run == "All"


def _manager(request: kmock.Request) -> str:
    if manager := request.params.get("fieldManager"):
        return manager
    return header(request, "User-Agent").split("/", 1)[0] or "unknown"
