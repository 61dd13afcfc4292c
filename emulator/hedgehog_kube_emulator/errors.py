"""Kubernetes error answers: Status bodies with the reason a real API server gives for each code.

Anything in the emulator raises ``kmock.KubernetesError`` (``api_error()`` builds one); the
dispatcher turns it into a Status answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import kmock

if TYPE_CHECKING:
    from .catalogue import ResourceType

STATUS_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def api_error(status: int, message: str, reason: str | None = None, **details: Any) -> kmock.KubernetesError:
    return kmock.KubernetesError(status, reason or STATUS_REASONS.get(status, "Unknown"), message, details)


def status_body(code: int, reason: str, message: str, details: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    body.update(extra)
    return body


def no_such_resource() -> kmock.KubernetesError:
    return api_error(404, "the server could not find the requested resource")


def not_found(rtype: ResourceType, name: str) -> kmock.KubernetesError:
    return api_error(
        404, f'{rtype.qualified} "{name}" not found', group=rtype.group, kind=rtype.plural, name=name
    )


def conflict(rtype: ResourceType, name: str) -> kmock.KubernetesError:
    """409 for a write based on an outdated resourceVersion."""
    return api_error(
        409,
        f'Operation cannot be fulfilled on {rtype.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        "Conflict",
        group=rtype.group,
        kind=rtype.plural,
        name=name,
    )
