"""What Argo CD and the switches' agents would write, for tests and the demo to move by hand: an
Argo CD Application with its status (the shape of argoproj.io/v1alpha1 Application.status: sync,
health, operationState), and Agent status changes (a switch applying its generation, a heartbeat).
Nothing here runs by itself except ``DemoActivity``, the demo cluster's timeline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

ARGO_GROUP, ARGO_VERSION, APPLICATIONS = "argoproj.io", "v1alpha1", "applications"
AGENT_GROUP, AGENT_VERSION, AGENTS = "agent.githedgehog.com", "v1beta1", "agents"
DEMO_REVISION = "5d41402abc4b2a76b9719d911017c592ae2f8c3e"


def timestamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def application_status(
    *,
    sync: str = "Synced",
    health: str = "Healthy",
    phase: str | None = "Succeeded",
    revision: str = DEMO_REVISION,
    message: str | None = None,
    health_message: str | None = None,
) -> dict[str, Any]:
    """An Application's .status as Argo CD writes it (phase None: no operation ever ran)."""
    now = timestamp()
    status: dict[str, Any] = {
        "sync": {"status": sync, "revision": revision},
        "health": {"status": health},
        "reconciledAt": now,
    }
    if health_message:
        status["health"]["message"] = health_message
    if phase is not None:
        default = {
            "Succeeded": "successfully synced (all tasks run)",
            "Running": "one or more tasks are running",
            "Failed": "one or more objects failed to apply",
            "Error": "ComparisonError: failed to load target state",
        }.get(phase, "")
        operation: dict[str, Any] = {
            "phase": phase,
            "message": default if message is None else message,
            "startedAt": now,
            "operation": {"sync": {"revision": revision}, "initiatedBy": {"automated": True}},
            "syncResult": {"revision": revision},
        }
        if phase != "Running":
            operation["finishedAt"] = now
        status["operationState"] = operation
    return status


def application(
    name: str,
    namespace: str = "argocd",
    *,
    repo: str = "https://git.example.invalid/fabric.git",
    path: str = "fabric",
    **status: Any,
) -> dict[str, Any]:
    """An Argo CD Application deploying a fabric's manifests, with its status (see application_status)."""
    return {
        "apiVersion": f"{ARGO_GROUP}/{ARGO_VERSION}",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo, "path": path, "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
        "status": application_status(**status),
    }


def applied_status(generation: int, at: datetime | None = None) -> dict[str, Any]:
    """The Agent status fields of a switch that just applied `generation`."""
    when = timestamp(at)
    return {
        "lastAttemptGen": generation,
        "lastAttemptTime": when,
        "lastAppliedGen": generation,
        "lastAppliedTime": when,
        "lastHeartbeat": when,
        "conditions": [
            {
                "type": "Applied",
                "status": "True",
                "reason": "ApplySucceeded",
                "message": "Config applied",
                "lastTransitionTime": when,
            }
        ],
    }


class DemoActivity:
    """The demo cluster's timeline, in a thread: every switch sends a heartbeat every
    ``heartbeat_every`` seconds, and ``argocd_sync_after`` seconds after a client first reads one of
    the Applications given (at once when none is given), Argo CD finishes deploying them (Synced,
    Healthy, Succeeded) while the switches still applying catch up to their generation."""

    def __init__(
        self,
        cluster: Any,
        *,
        heartbeat_every: float = 15,
        argocd_sync_after: float | None = 90,
        applications: tuple[tuple[str, str], ...] = (),
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.cluster = cluster
        self.heartbeat_every = heartbeat_every
        self.argocd_sync_after = argocd_sync_after
        self.applications = applications
        self.log = log
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="emulated-k8s-demo", daemon=True)

    def start(self) -> DemoActivity:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)

    def _read(self) -> bool:
        """Whether a client has read one of the Applications (a GET of it) yet."""
        paths = {
            f"/apis/{ARGO_GROUP}/{ARGO_VERSION}/namespaces/{ns}/{APPLICATIONS}/{name}"
            for ns, name in self.applications
        }
        return any(r.method == "GET" and r.path in paths for r in self.cluster.requests)

    def _run(self) -> None:
        # The countdown starts when a client (NetBox) first reads an Application, so that a newcomer
        # sees the deployment in progress however long the setup took; without Applications, at once.
        started = None if self.applications else time.monotonic()
        synced = self.argocd_sync_after is None
        next_heartbeat = time.monotonic()
        while not self.stopping.is_set():
            now = time.monotonic()
            if started is None and not synced and self._read():
                started = now
                self.log(f"an Application was read: the deployment completes in {self.argocd_sync_after:g} s")
            if not synced and started is not None and now - started >= (self.argocd_sync_after or 0):
                self.complete_deployment()
                synced = True
            if now >= next_heartbeat:
                self.heartbeats()
                next_heartbeat = now + self.heartbeat_every
            self.stopping.wait(min(1.0, self.heartbeat_every))

    def heartbeats(self) -> None:
        for agent in self.cluster.objects(AGENT_GROUP, AGENT_VERSION, AGENTS):
            meta = agent["metadata"]
            self.cluster.patch_object(
                AGENT_GROUP,
                AGENT_VERSION,
                AGENTS,
                meta["name"],
                {"status": {"lastHeartbeat": timestamp()}},
                namespace=meta.get("namespace"),
            )

    def complete_deployment(self) -> None:
        for agent in self.cluster.objects(AGENT_GROUP, AGENT_VERSION, AGENTS):
            meta, status = agent["metadata"], agent.get("status") or {}
            if status.get("lastAppliedGen") != meta.get("generation"):
                self.cluster.agent_applies(meta["name"], namespace=meta.get("namespace"))
                self.log(f"agent {meta['name']} applied generation {meta.get('generation')}")
        for namespace, name in self.applications:
            self.cluster.set_application(name, namespace)
            self.log(f"Argo CD Application {namespace}/{name}: Synced, Healthy, Succeeded")
