"""The emulated cluster for synchronous code: the API server in a daemon thread with its own event
loop on 127.0.0.1, over TLS with a bearer token; seeding and direct access to its state, faults, the
request log. Also two servers that are not clusters: ``BlackHole`` (accepts, never answers) and
``closed_port_url()`` (refuses).

kmock's ``Server`` is not used: its DNS interceptor patches aiohttp process-wide and must be exited
in LIFO order, which breaks with several clusters in threads. The server here is a plain aiohttp
``ServerRunner`` with TLS and a short ``shutdown_timeout`` (leaving it while a client watch is open
blocked for minutes otherwise).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import logging
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from . import gitops
from .auth import MODES
from .catalogue import HEDGEHOG_RESOURCES, ResourceType
from .dispatch import HedgehogEmulator, RequestRecord
from .faults import make_fault
from .tls import make_tls_material

log = logging.getLogger(__name__)

_DEFAULT_VERSION = "v1.32.4+k3s1"  # Hedgehog's control node runs k3s


class EmulatedCluster:
    """The emulated API server on 127.0.0.1, in a daemon thread with its own event loop.

    Every public method is thread-safe: it runs on the server's loop and waits for the result.
    """

    def __init__(
        self,
        *,
        tls: bool = True,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        hedgehog: bool = True,
        resources: Iterable[ResourceType] = (),
        history_size: int = 5000,
        kubernetes_version: str = _DEFAULT_VERSION,
        shutdown_timeout: float = 0.5,
        request_log_size: int = 1000,
        too_large_wait: float = 3.0,
    ) -> None:
        self.tls = tls
        self.token = token or secrets.token_urlsafe(24)
        self.host = host
        self._requested_port = port
        self._resource_types = (*(HEDGEHOG_RESOURCES if hedgehog else ()), *resources)
        self._history_size = history_size
        self._shutdown_timeout = shutdown_timeout
        self._request_log_size = request_log_size
        self._too_large_wait = too_large_wait
        major, minor = re.match(r"v?(\d+)\.(\d+)", kubernetes_version).groups()  # type: ignore[union-attr]
        self._version_info = {
            "major": major,
            "minor": minor,
            "gitVersion": kubernetes_version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.23.6",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
        self.ca_pem: str = ""
        self._tls_material: tuple[str, str, str] | None = None  # made at the first start, then kept
        self._tmpdir: Path | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._emulator: HedgehogEmulator | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # ---------------------------------------------------------------------------------- lifecycle

    def start(self) -> EmulatedCluster:
        if self._thread is not None:
            raise RuntimeError("the emulated cluster is already started")
        self._tmpdir = Path(tempfile.mkdtemp(prefix="emulated-k8s-"))
        ssl_context = None
        if self.tls:
            if self._tls_material is None:
                self._tls_material = make_tls_material()
            self.ca_pem, cert_pem, key_pem = self._tls_material
            (self._tmpdir / "ca.crt").write_text(self.ca_pem)
            (self._tmpdir / "server.crt").write_text(cert_pem)
            (self._tmpdir / "server.key").write_text(key_pem)
            ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ssl_context.load_cert_chain(self._tmpdir / "server.crt", self._tmpdir / "server.key")
            (self._tmpdir / "server.key").unlink()
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(
            target=self._run, args=(ssl_context,), name="emulated-k8s", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the emulated cluster did not start within 30 seconds")
        if self._startup_error is not None:
            self._thread.join(timeout=5)
            self._thread = None
            raise RuntimeError(f"the emulated cluster failed to start: {self._startup_error!r}") from (
                self._startup_error
            )
        return self

    def stop(self) -> None:
        """Stop serving: open watches end, connections close; safe to call twice."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may have just finished
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=self._shutdown_timeout + 10)
        if thread.is_alive():
            log.warning("the emulated cluster's thread did not stop")
        self._thread = self._loop = self._emulator = self._stopping = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def restart(self) -> EmulatedCluster:
        """Stop, then serve again on the same address with the same CA and token, storing nothing.

        As a cluster rebuilt from scratch (or etcd restored from an old backup): objects are gone
        (seed them again), resourceVersions begin again from the low ones of the built-in objects,
        so a client's last resourceVersion may now be ahead of the cluster's (a watch from it answers
        504 "Too large resource version" once the cluster has not reached it within
        ``too_large_wait`` seconds); open watches end, faults, mode and the request log are reset.
        """
        port = self.port
        self.stop()
        self._requested_port = port
        return self.start()

    def __enter__(self) -> EmulatedCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, ssl_context: ssl.SSLContext | None) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ssl_context))
        except BaseException as exc:  # noqa: BLE001 - reported to start() or logged
            if not self._ready.is_set():
                self._startup_error = exc
                self._ready.set()
            else:
                log.exception("the emulated cluster stopped with an error")
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, ssl_context: ssl.SSLContext | None) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self._port = sock.getsockname()[1]
        emulator = HedgehogEmulator(
            token=self.token,
            resource_types=self._resource_types,
            history_size=self._history_size,
            request_log_size=self._request_log_size,
            too_large_wait=self._too_large_wait,
            server_address=f"{self.host}:{self._port}",
            version_info=self._version_info,
        )
        self._stopping = asyncio.Event()
        async with emulator:
            # handler_cancellation: a handler (a watch, a slow answer) is cancelled when its client leaves.
            server = web.Server(emulator, handler_cancellation=True, access_log=None)
            runner = web.ServerRunner(server, shutdown_timeout=self._shutdown_timeout)
            await runner.setup()
            try:
                site = web.SockSite(runner, sock, ssl_context=ssl_context)
                await site.start()
                self._emulator = emulator
                self._ready.set()
                await self._stopping.wait()
                emulator.close_watches()
                await asyncio.sleep(0)  # let the watch streams see their end
            finally:
                await runner.cleanup()

    # ---------------------------------------------------------------------------------- access

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulated cluster is not started")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ca_file(self) -> str | None:
        """Path of the CA certificate (PEM) while the cluster runs; None without TLS."""
        if not self.tls or self._tmpdir is None:
            return None
        return str(self._tmpdir / "ca.crt")

    @property
    def emulator(self) -> HedgehogEmulator:
        """The kmock handler; touch it only through ``call()`` (it lives on the server's loop)."""
        if self._emulator is None:
            raise RuntimeError("the emulated cluster is not started")
        return self._emulator

    def call(self, fn: Callable[[HedgehogEmulator], Any], timeout: float = 30) -> Any:
        """Run ``fn(emulator)`` on the server's event loop and return its result."""
        emulator, loop = self.emulator, self._loop
        assert loop is not None
        if self._thread is not None and threading.current_thread() is self._thread:
            return fn(emulator)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(emulator))
            except BaseException as exc:  # noqa: BLE001 - handed over to the calling thread
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result(timeout=timeout)

    def kubeconfig(self, context_name: str = "hedgehog-demo", namespace: str = "default") -> str:
        """A kubeconfig (YAML text) for this cluster: server, CA data, bearer token."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem.encode()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context_name, "cluster": cluster}],
            "users": [{"name": context_name, "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": context_name,
                    "context": {"cluster": context_name, "user": context_name, "namespace": namespace},
                }
            ],
            "current-context": context_name,
            "preferences": {},
        }
        return yaml.safe_dump(config, sort_keys=False)

    def write_kubeconfig(self, path: str | Path, context_name: str = "hedgehog-demo") -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.kubeconfig(context_name))
        path.chmod(0o600)
        return path

    # ---------------------------------------------------------------------------------- state

    def seed(
        self, objects: str | Mapping[str, Any] | Iterable[Mapping[str, Any]], *, defaults: bool = True
    ) -> list[dict[str, Any]]:
        """Create or replace objects as stored state: YAML text (multi-document), a dict or dicts.

        Status and metadata.generation are kept as given; webhook defaults apply unless
        ``defaults=False``; namespaces are created as needed; watchers see the changes.
        """
        if isinstance(objects, str):
            docs: list[Any] = [doc for doc in yaml.safe_load_all(objects) if doc]
        elif isinstance(objects, Mapping):
            docs = [objects]
        else:
            docs = list(objects)
        flat: list[Mapping[str, Any]] = []
        for doc in docs:
            if isinstance(doc, Mapping) and str(doc.get("kind", "")).endswith("List") and "items" in doc:
                flat.extend(doc["items"])
            else:
                flat.append(doc)
        return self.call(
            lambda emulator: [emulator.store.copy(emulator.store.put(doc, defaults=defaults)) for doc in flat]
        )

    def put_object(self, obj: Mapping[str, Any], *, defaults: bool = True) -> dict[str, Any]:
        """Create or replace one object as stored state (see ``seed``)."""
        return self.seed(obj, defaults=defaults)[0]

    def objects(
        self, group: str, version: str, plural: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """Copies of the stored objects of a resource, in (namespace, name) order."""

        def collect(emulator: HedgehogEmulator) -> list[dict[str, Any]]:
            table = emulator.store.table(group, version, plural)
            lo, hi = table.key_range(namespace)
            return [json.loads(table.encoded[key]) for key in table.keys[lo:hi]]

        return self.call(collect)

    def get_object(
        self, group: str, version: str, plural: str, name: str, namespace: str | None = "default"
    ) -> dict[str, Any] | None:
        def find(emulator: HedgehogEmulator) -> dict[str, Any] | None:
            table = emulator.store.table(group, version, plural)
            key = ((namespace or "") if table.rtype.namespaced else "", name)
            obj = table.objects.get(key)
            return None if obj is None else emulator.store.copy(obj)

        return self.call(find)

    def patch_object(
        self,
        group: str,
        version: str,
        plural: str,
        name: str,
        patch: Mapping[str, Any],
        namespace: str | None = "default",
    ) -> dict[str, Any]:
        """Merge-patch a stored object, status included (e.g. an Agent's lastAppliedGen)."""

        def apply(emulator: HedgehogEmulator) -> dict[str, Any]:
            table = emulator.store.table(group, version, plural)
            return emulator.store.copy(
                emulator.store.patch(table, namespace if table.rtype.namespaced else None, name, patch)
            )

        return self.call(apply)

    def delete_object(
        self, group: str, version: str, plural: str, name: str, namespace: str | None = "default"
    ) -> bool:
        """Delete a stored object at once (watchers see DELETED); False if it did not exist."""

        def remove(emulator: HedgehogEmulator) -> bool:
            table = emulator.store.table(group, version, plural)
            return emulator.store.remove(table, namespace if table.rtype.namespaced else None, name)

        return self.call(remove)

    # ---------------------------------------------------------------------------------- GitOps
    # What Argo CD and the switches' agents would write (gitops.py), for tests to move by hand.

    def set_application(self, name: str, namespace: str = "argocd", **status: Any) -> dict[str, Any]:
        """Create or replace an Argo CD Application with this status (gitops.application_status:
        sync, health, phase, revision, message, health_message). Needs ARGOCD_RESOURCES served."""
        return self.put_object(gitops.application(name, namespace, **status))

    def agent_applies(self, name: str, namespace: str | None = "default", at: datetime | None = None) -> dict:
        """The switch applies its current generation (lastAppliedGen = metadata.generation, the
        Applied condition true, a heartbeat)."""
        agent = self.get_object(gitops.AGENT_GROUP, gitops.AGENT_VERSION, gitops.AGENTS, name, namespace)
        if agent is None:
            raise KeyError(f"no agent {namespace}/{name}")
        generation = agent["metadata"].get("generation", 1)
        return self.patch_object(
            gitops.AGENT_GROUP,
            gitops.AGENT_VERSION,
            gitops.AGENTS,
            name,
            {"status": gitops.applied_status(generation, at)},
            namespace=namespace,
        )

    def agent_new_generation(self, name: str, namespace: str | None = "default") -> dict:
        """The controller gives the switch a new configuration: metadata.generation moves on, the
        applied generation stays behind (the switch is then pending)."""
        agent = self.get_object(gitops.AGENT_GROUP, gitops.AGENT_VERSION, gitops.AGENTS, name, namespace)
        if agent is None:
            raise KeyError(f"no agent {namespace}/{name}")
        generation = agent["metadata"].get("generation", 1) + 1
        return self.patch_object(
            gitops.AGENT_GROUP,
            gitops.AGENT_VERSION,
            gitops.AGENTS,
            name,
            {
                "metadata": {"generation": generation},
                "status": {
                    "conditions": [
                        {
                            "type": "Applied",
                            "status": "False",
                            "reason": "ApplyInProgress",
                            "message": f"Applying generation {generation}",
                            "lastTransitionTime": gitops.timestamp(),
                        }
                    ]
                },
            },
            namespace=namespace,
        )

    def agent_heartbeat(
        self, name: str, at: datetime | None = None, namespace: str | None = "default"
    ) -> dict:
        """The switch's agent reports a heartbeat at `at` (now by default; a time in the past stands
        for a heartbeat that stopped then)."""
        return self.patch_object(
            gitops.AGENT_GROUP,
            gitops.AGENT_VERSION,
            gitops.AGENTS,
            name,
            {"status": {"lastHeartbeat": gitops.timestamp(at)}},
            namespace=namespace,
        )

    @property
    def resource_version(self) -> str:
        """The cluster's current resourceVersion (that of the latest change)."""
        return str(self.call(lambda emulator: emulator.store.resource_version))

    def compact(self) -> None:
        """Forget the event history: watches from older resourceVersions and older continue tokens get 410."""
        self.call(lambda emulator: emulator.store.compact())

    def expire_continues(self, count: int = 1) -> None:
        """The next ``count`` continued lists answer 410 Expired, as when etcd compacts mid-list."""
        self.call(lambda emulator: emulator.store.expire_continues(count))

    def reset(self) -> None:
        """Clear faults, latency and mode, and delete every object but the built-in ones (with events)."""

        def clear(emulator: HedgehogEmulator) -> None:
            emulator.clear_faults()
            emulator.store.reset()

        self.call(clear)

    # ---------------------------------------------------------------------------------- faults

    def fail_next(
        self,
        status: int = 500,
        count: int | None = 1,
        *,
        method: str | Iterable[str] | None = None,
        verb: str | Iterable[str] | None = None,
        path: str | None = None,
        reason: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests (None: all, until cleared) with a Status error.

        ``method`` filters HTTP methods, ``verb`` Kubernetes verbs (get, list, watch, create, update,
        patch, delete, deletecollection), ``path`` is a regular expression searched in the path.
        """
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        self._add_fault(
            "status",
            count,
            method,
            verb,
            path,
            status=status,
            reason=reason,
            message=message,
            headers=headers,
        )

    def malformed_json_next(
        self,
        count: int | None = 1,
        *,
        method: str | Iterable[str] | None = None,
        verb: str | Iterable[str] | None = None,
        path: str | None = None,
        status: int = 200,
    ) -> None:
        """Answer the next ``count`` matching requests with truncated JSON (the client fails to parse)."""
        self._add_fault("malformed", count, method, verb, path, status=status)

    def disconnect_next(
        self,
        count: int | None = 1,
        *,
        method: str | Iterable[str] | None = None,
        verb: str | Iterable[str] | None = None,
        path: str | None = None,
    ) -> None:
        """Drop the connection of the next ``count`` matching requests without any answer."""
        self._add_fault("disconnect", count, method, verb, path)

    def _add_fault(
        self, kind: str, count: int | None, method: Any, verb: Any, path: str | None, **fields: Any
    ) -> None:
        fault = make_fault(kind, count, method=method, verb=verb, path=path, **fields)
        self.call(lambda emulator: emulator.faults.add(fault))

    def set_latency(
        self,
        seconds: float,
        *,
        method: str | Iterable[str] | None = None,
        verb: str | Iterable[str] | None = None,
        path: str | None = None,
    ) -> None:
        """Delay every matching answer by ``seconds``; ``math.inf`` never answers; 0 turns it off."""
        where = make_fault("latency", None, method=method, verb=verb, path=path)
        self.call(lambda emulator: emulator.faults.set_latency(seconds, where))

    def set_mode(self, mode: str) -> None:
        """Set how requests are authorised.

        ``ok``; ``unauthorized``: 401 for all; ``forbidden``: 403 for all; ``read-only``: 403 for writes.
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.call(lambda emulator: setattr(emulator, "mode", mode))

    def clear_faults(self) -> None:
        """Remove pending faults and latency, back to mode ``ok``."""
        self.call(lambda emulator: emulator.clear_faults())

    # ---------------------------------------------------------------------------------- observation

    @property
    def requests(self) -> list[RequestRecord]:
        """The latest answered requests, oldest first (``request_log_size`` of them)."""
        return self.call(lambda emulator: list(emulator.request_log))

    @property
    def open_watches(self) -> int:
        """How many watch streams are open now (e.g. to wait until a client's watch is established)."""
        return self.call(lambda emulator: len(emulator.store.watchers))

    def clear_requests(self) -> None:
        self.call(lambda emulator: emulator.request_log.clear())

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions raised while serving (bugs in the emulator or in DSL reactions)."""
        return self.call(lambda emulator: list(emulator.errors))

    # ---------------------------------------------------------------------------------- helpers

    @staticmethod
    def black_hole(host: str = "127.0.0.1") -> BlackHole:
        """A started server that accepts TCP connections and never answers (for timeout tests)."""
        return BlackHole(host).start()

    @staticmethod
    def never_accepting(host: str = "127.0.0.1") -> NeverAccepting:
        """A started server that never accepts a connection: clients time out connecting."""
        return NeverAccepting(host).start()

    @staticmethod
    def closed_port_url(scheme: str = "https", host: str = "127.0.0.1") -> str:
        """A URL whose port nothing listens on (connection refused)."""
        return closed_port_url(scheme, host)


class BlackHole:
    """Accepts TCP connections and never answers: clients time out (in the TLS handshake for https)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self._connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def url(self, scheme: str = "https") -> str:
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> BlackHole:
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self._connections.append(conn)  # held open, never read, never answered

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for conn in self._connections:
            conn.close()
        self._sock.close()

    def __enter__(self) -> BlackHole:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class NeverAccepting:
    """Listens with a full backlog and never accepts: the kernel drops every new connection attempt
    (its SYN), so clients time out connecting, as with a host that is down behind a firewall. The
    backlog is filled by the server's own first connection."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.bind((host, 0))
        self.port: int = self._sock.getsockname()[1]
        self._filler = socket.socket(family, socket.SOCK_STREAM)

    def url(self, scheme: str = "https") -> str:
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> NeverAccepting:
        self._sock.listen(0)  # room for one waiting connection: the filler's
        self._filler.connect((self.host, self.port))
        return self

    def stop(self) -> None:
        self._filler.close()
        self._sock.close()

    def __enter__(self) -> NeverAccepting:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def closed_port_url(scheme: str = "https", host: str = "127.0.0.1") -> str:
    """A URL on a port that was free a moment ago and that nothing listens on (connection refused)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    return f"{scheme}://{host}:{port}"
