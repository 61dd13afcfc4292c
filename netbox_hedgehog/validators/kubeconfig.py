"""A kubeconfig is data, never instructions.

A kubeconfig can tell its reader to run a command (`exec`, `auth-provider`), or to read a file of
the machine it is read on (`tokenFile`, `certificate-authority`, `client-certificate`,
`client-key`). Whoever may edit a fabric must not thereby gain the NetBox worker's powers on its
host, so a stored kubeconfig may only hold what can be used without touching the host: a server
URL, inline credentials (`token`, `username`/`password`, `client-certificate-data`,
`client-key-data`) and inline CA data. Anything else is refused, naming the key; the client is then
built from `safe_kubeconfig()`'s copy, which holds nothing but the allowed keys of the context used.

Pure: no Django, no ORM, no kubernetes client. Raises `KubeconfigRefused` (a ValueError) with a
message that never quotes a value of the kubeconfig.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

# Far beyond any real kubeconfig (a few KB; with inline certificates some tens of KB).
MAX_SIZE = 512 * 1024

# key -> why it is refused (and what to give instead)
REFUSED_USER_KEYS = {
    "exec": "it runs a command on the NetBox worker; give a token or inline client certificate data",
    "auth-provider": "it runs an authentication plugin on the NetBox worker; give a token instead",
    "tokenFile": "it reads a file of the NetBox worker; give the token itself as token",
    "client-certificate": "it reads a file of the NetBox worker; give client-certificate-data",
    "client-key": "it reads a file of the NetBox worker; give client-key-data",
}
REFUSED_CLUSTER_KEYS = {
    "certificate-authority": "it reads a file of the NetBox worker; give certificate-authority-data",
    "proxy-url": "the worker connects to the API server directly; proxies are not supported",
}
# The keys a sanitised copy keeps, with the type each must have.
ALLOWED_CLUSTER_KEYS = {
    "server": str,
    "certificate-authority-data": str,
    "insecure-skip-tls-verify": bool,
    "tls-server-name": str,
}
ALLOWED_USER_KEYS = {
    "token": str,
    "client-certificate-data": str,
    "client-key-data": str,
    "username": str,
    "password": str,
}


class KubeconfigRefused(ValueError):
    """The kubeconfig cannot be used; `key` names the offending key when there is one."""

    def __init__(self, message: str, key: str = ""):
        super().__init__(message)
        self.message = message
        self.key = key


@dataclass(frozen=True)
class SafeKubeconfig:
    config: dict  # a kubeconfig holding only the allowed keys of the context used
    context: str
    server: str


def parse(text: str):
    """The YAML document, or KubeconfigRefused (too large, not YAML, nested too deeply)."""
    if not isinstance(text, str):
        raise KubeconfigRefused("The kubeconfig must be text (YAML).")
    if len(text) > MAX_SIZE:
        raise KubeconfigRefused(f"The kubeconfig is larger than {MAX_SIZE // 1024} KiB.")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise KubeconfigRefused(f"The kubeconfig is not valid YAML{where}.") from None
    except RecursionError:
        raise KubeconfigRefused("The kubeconfig is nested too deeply to be a kubeconfig.") from None


def _entries(data: dict, section: str, body: str) -> dict[str, dict]:
    """A list section (clusters, contexts, users) as {name: body mapping}; refuses odd shapes."""
    items = data.get(section)
    if not isinstance(items, list) or not items:
        raise KubeconfigRefused(f"The kubeconfig has no {section}.", section)
    out = {}
    for index, item in enumerate(items):
        where = f"{section}[{index}]"
        if not isinstance(item, dict):
            raise KubeconfigRefused(f"{where} must be a mapping with name and {body}.", section)
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise KubeconfigRefused(f"{where}.name must be a non-empty text.", f"{where}.name")
        value = item.get(body)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise KubeconfigRefused(f"{where}.{body} must be a mapping.", f"{where}.{body}")
        if name in out:
            raise KubeconfigRefused(f"The kubeconfig defines {section[:-1]} {name!r} twice.", where)
        out[name] = value
    return out


def _refuse_host_access(section: str, entries: dict[str, dict], refused: dict[str, str]):
    for name, body in entries.items():
        for key, why in refused.items():
            if key in body:
                raise KubeconfigRefused(
                    f"The kubeconfig's {section[:-1]} {name!r} uses {key}, which is not accepted: {why}.",
                    key,
                )


def _kept(section: str, name: str, body: dict, allowed: dict[str, type]) -> dict:
    kept = {}
    for key, kind in allowed.items():
        if key not in body or body[key] is None:
            continue
        if not isinstance(body[key], kind):
            raise KubeconfigRefused(
                f"{key} of {section} {name!r} must be {'true or false' if kind is bool else 'text'}.", key
            )
        kept[key] = body[key]
    return kept


def safe_kubeconfig(text: str, context: str = "") -> SafeKubeconfig:
    """Check a kubeconfig and return the copy a client may be built from.

    Refused: a document that is not a kubeconfig mapping; any cluster or user (used or not) with a
    key that runs a command or reads a file; a context to use that is missing or does not name a
    defined cluster and user; a cluster without a server URL.
    """
    data = parse(text)
    if not isinstance(data, dict):
        raise KubeconfigRefused("The kubeconfig must be a YAML mapping (apiVersion: v1, kind: Config).")
    clusters = _entries(data, "clusters", "cluster")
    contexts = _entries(data, "contexts", "context")
    users = _entries(data, "users", "user")
    _refuse_host_access("clusters", clusters, REFUSED_CLUSTER_KEYS)
    _refuse_host_access("users", users, REFUSED_USER_KEYS)
    current = data.get("current-context")
    if current is not None and not isinstance(current, str):
        raise KubeconfigRefused("current-context must be a text (a context's name).", "current-context")
    if context is not None and not isinstance(context, str):
        raise KubeconfigRefused("The context to use must be a text.", "context")
    name = context or current
    if not name:
        raise KubeconfigRefused(
            "The kubeconfig has no current-context: name the context to use.", "current-context"
        )
    if name not in contexts:
        raise KubeconfigRefused(
            f"The kubeconfig has no context {name!r}; it has: {', '.join(sorted(contexts))}.", "contexts"
        )
    chosen = contexts[name]
    cluster_name, user_name = chosen.get("cluster"), chosen.get("user")
    if not isinstance(cluster_name, str) or cluster_name not in clusters:
        raise KubeconfigRefused(
            f"Context {name!r} names cluster {cluster_name!r}, which the kubeconfig does not define.",
            "context.cluster",
        )
    if not isinstance(user_name, str) or user_name not in users:
        raise KubeconfigRefused(
            f"Context {name!r} names user {user_name!r}, which the kubeconfig does not define.",
            "context.user",
        )
    cluster = _kept("cluster", cluster_name, clusters[cluster_name], ALLOWED_CLUSTER_KEYS)
    user = _kept("user", user_name, users[user_name], ALLOWED_USER_KEYS)
    if not cluster.get("server"):
        raise KubeconfigRefused(f"The kubeconfig's cluster {cluster_name!r} has no server URL.", "server")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "contexts": [{"name": name, "context": {"cluster": cluster_name, "user": user_name}}],
        "users": [{"name": user_name, "user": user}],
    }
    return SafeKubeconfig(config=config, context=name, server=cluster["server"])


def credential_strings(text: str, budget: int = 10_000) -> list[str]:
    """Every string under the kubeconfig's users (to redact them from messages); [] if unreadable.

    The walk visits at most `budget` values: YAML aliases can make a small document a huge tree.
    """
    try:
        data = parse(text)
    except KubeconfigRefused:
        return []
    found = []
    stack = [data.get("users")] if isinstance(data, dict) else []
    while stack and budget > 0:
        value = stack.pop()
        budget -= 1
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found
