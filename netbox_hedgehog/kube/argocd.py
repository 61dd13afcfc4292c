"""Reading the Argo CD Application that deploys a fabric (one GET; a 404 is told apart by one more
request, only then): what it says, or why it could not be read. No database access."""

from datetime import UTC, datetime

from kubernetes import client as k8s

from ..state import argocd as argo
from .errors import classify


def read_application(access, namespace: str, name: str, served: dict | None = None) -> argo.Application:
    """The Application's kept facts; never raises for what the cluster answers (an error is kept as
    presence "unreadable" with its classified reason; the caller redacts it).

    `served` is what the cluster's `/apis` said just before (group -> versions; kube/probe.py), when
    known: a cluster that does not serve argoproj.io/v1alpha1 has no Argo CD (no request), and a
    404 from one that does means the Application is missing (no second request to tell an object
    that does not exist from a resource that is not served).
    """
    checked = datetime.now(UTC).isoformat(timespec="seconds")
    if served is not None and argo.APPLICATION_VERSION not in served.get(argo.APPLICATION_GROUP, ()):
        return argo.Application(argo.NOT_INSTALLED, namespace, name, checked_at=checked)
    custom = k8s.CustomObjectsApi(access.api)
    try:
        obj = custom.get_namespaced_custom_object(
            argo.APPLICATION_GROUP,
            argo.APPLICATION_VERSION,
            namespace,
            argo.APPLICATION_PLURAL,
            name,
            _request_timeout=access.timeout,
        )
        return argo.application_from(obj, checked_at=checked)
    except k8s.ApiException as exc:
        error = exc
        if exc.status == 404:
            try:
                presence = (
                    argo.MISSING if served is not None or _served(custom, access) else argo.NOT_INSTALLED
                )
                return argo.Application(presence, namespace, name, checked_at=checked)
            except Exception as again:  # noqa: BLE001 - classified and kept below, never swallowed
                error = again
    except Exception as exc:  # noqa: BLE001 - classified and kept (unreadable), never swallowed
        error = exc
    failure = classify(error, server=access.server, timeout=access.timeout)
    return argo.Application(
        argo.UNREADABLE, namespace, name, error=f"[{failure.code}] {failure.message}", checked_at=checked
    )


def _served(custom, access) -> bool:
    """Whether the cluster serves Argo CD's applications (Kubernetes answers 404 both for an object
    that does not exist and for a resource it does not serve)."""
    try:
        resources = custom.get_api_resources(
            argo.APPLICATION_GROUP, argo.APPLICATION_VERSION, _request_timeout=access.timeout
        ).resources
    except k8s.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return any(r.name == argo.APPLICATION_PLURAL for r in resources)
