"""Authentication and authorisation, checked before anything is served or changed.

A cluster with a token accepts only ``Authorization: Bearer <token>`` (401 otherwise). Its mode,
set by tests, refuses more: ``unauthorized`` (401 for all), ``forbidden`` (403 for all),
``read-only`` (403 for writes); ``ok`` refuses nothing else. The 403 messages are a real API server's
RBAC denials.
"""

from __future__ import annotations

import kmock

from .errors import api_error
from .request import header

MODES = ("ok", "unauthorized", "forbidden", "read-only")
MUTATING_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def authorize(request: kmock.Request, verb: str, *, token: str | None, mode: str, user: str) -> None:
    """Raise the 401 or 403 a real API server would answer; return when the request may proceed."""
    if mode == "unauthorized" or (
        token is not None and header(request, "Authorization") != f"Bearer {token}"
    ):
        raise api_error(401, "Unauthorized")
    if mode == "forbidden" or (mode == "read-only" and verb in MUTATING_VERBS):
        resource = request.resource
        if resource is None or resource.plural is None:
            raise api_error(403, f'forbidden: User "{user}" cannot {verb} path "{request.url.path}"')
        qualified = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
        named = f' "{request.name}"' if request.name else ""
        where = f' in the namespace "{request.namespace}"' if request.namespace else ""
        raise api_error(
            403,
            f"{qualified}{named} is forbidden: User "
            f'"{user}" cannot {verb} resource "{resource.plural}" in API group '
            f'"{resource.group}"{where}',
            group=resource.group,
            kind=resource.plural,
            **({"name": request.name} if request.name else {}),
        )
