"""Classification of everything that can go wrong talking to a cluster.

Every failure becomes a KubeFailure with a stable `code` (kept in connection_error_code and the
history) and a `message` a person can act on. Messages never carry credentials, request headers
or response headers: only the status line and the Kubernetes Status message.
"""

import json
import socket
import ssl
from dataclasses import dataclass

import urllib3.exceptions
import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from ..choices import FailureCodeChoices
from ..choices import FailureCodeChoices as F
from ..credentials import CredentialsUnreadable
from ..outbound import AddressBlocked

# code -> what it means (the documentation of the codes, from their ChoiceSet)
CODES = {code: str(label) for code, label, *_ in FailureCodeChoices.CHOICES}


@dataclass
class KubeFailure(Exception):
    code: str
    message: str

    def __post_init__(self):
        super().__init__(self.message)

    def __str__(self):
        return f"[{self.code}] {self.message}"


def _chain(exc):
    """The exception and everything it wraps (urllib3 reasons, causes, contexts)."""
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = (
            getattr(exc, "reason", None)
            if isinstance(getattr(exc, "reason", None), BaseException)
            else (exc.__cause__ or exc.__context__)
        )
    return seen


def clip(text: str, limit: int = 300) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis (never mid-word)."""
    text = str(text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(None, 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(",;:") + "…"


def status_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return ""
    message = body.get("message", "") if isinstance(body, dict) else ""
    return clip(message)


def classify(exc: BaseException, *, server: str = "", timeout=None) -> KubeFailure:
    """The KubeFailure for an exception raised while talking to a cluster.

    `timeout` is the (connect, request) pair used, to say how long was waited.
    """
    if isinstance(exc, KubeFailure):
        return exc
    at = f" at {server}" if server else ""
    if isinstance(exc, ApiException) and exc.status:
        return _classify_status(exc, at)
    if isinstance(exc, ApiException) and "SSL" in str(exc.reason or ""):
        # the client reports a failed TLS handshake as ApiException(status=0, reason=SSLError...)
        return _tls_failure(str(exc.reason).split("\n")[-1], at)
    if isinstance(exc, CredentialsUnreadable):
        return KubeFailure(F.BAD_CONFIGURATION, str(exc))
    if isinstance(exc, (ConfigException, yaml.YAMLError)):
        return KubeFailure(F.BAD_CONFIGURATION, f"The kubeconfig cannot be used: {_first_line(exc)}")
    chain = _chain(exc)
    for item in chain:
        if isinstance(item, AddressBlocked):
            return KubeFailure(F.BAD_CONFIGURATION, f"The API server {item}")
    for item in chain:
        if isinstance(item, (ssl.SSLError, urllib3.exceptions.SSLError)):
            return _tls_failure(_first_line(item), at)
    for item in chain:
        if isinstance(item, socket.gaierror):
            return KubeFailure(
                F.DNS, f"The server name in {server or 'the URL'} does not resolve ({_first_line(item)})."
            )
        if isinstance(item, ConnectionRefusedError):
            return KubeFailure(
                F.REFUSED, f"Connection refused{at}: is the API server running and the port right?"
            )
    for item in chain:
        if isinstance(item, (urllib3.exceptions.TimeoutError, TimeoutError, socket.timeout)):
            limits = (
                f" (connect timeout {timeout[0]:g} s, request timeout {timeout[1]:g} s)" if timeout else ""
            )
            return KubeFailure(F.TIMEOUT, f"The server{at} did not answer in time{limits}.")
    for item in chain:
        if isinstance(item, (urllib3.exceptions.ProtocolError, ConnectionError)):
            return KubeFailure(
                F.CONNECTION_LOST, f"The connection to the server{at} was dropped ({_first_line(item)})."
            )
        if isinstance(item, urllib3.exceptions.NewConnectionError):
            return KubeFailure(F.REFUSED, f"Could not connect{at} ({_first_line(item)}).")
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
        return KubeFailure(
            F.BAD_RESPONSE,
            f"The server{at} answered something that is not JSON: is it a Kubernetes API server?",
        )
    if isinstance(exc, ValueError) and "Invalid header value" in str(exc):
        # http.client quotes the whole header (the token): never repeat its message
        return KubeFailure(
            F.BAD_CONFIGURATION,
            "The credentials cannot be sent in an HTTP header: the token has a line break, a space or a "
            "control character inside (was it wrapped when copied?). Enter it again.",
        )
    if isinstance(exc, ValueError) and "Invalid value for" in str(exc):
        return KubeFailure(
            F.BAD_RESPONSE, f"The server{at} answered an object the client cannot read ({_first_line(exc)})."
        )
    return KubeFailure(F.UNEXPECTED, f"Unexpected {type(exc).__name__}{at}: {_first_line(exc)}")


def _classify_status(exc: ApiException, at: str) -> KubeFailure:
    status = exc.status
    detail = status_message(exc)
    said = (
        f" The server said: {detail.rstrip('.')}."
        if detail and detail.lower() != (exc.reason or "").lower()
        else ""
    )
    line = f"{status} {exc.reason or ''}".rstrip()
    if status == 401:
        return KubeFailure(
            F.UNAUTHORIZED,
            f"The API server{at} rejected the credentials ({line}).{said} Check the token or the kubeconfig's user.",
        )
    if status == 403:
        return KubeFailure(
            F.FORBIDDEN,
            f"The credentials are not allowed to do this ({line}).{said} Grant the account get, list and watch "
            "on the Hedgehog resources.",
        )
    if status >= 500:
        return KubeFailure(
            F.SERVER_ERROR,
            f"The API server{at} answered {line}.{said} It is failing: check its health and logs "
            "(or its load balancer's).",
        )
    return KubeFailure(F.HTTP_ERROR, f"The API server{at} answered {line}.{said}")


def _tls_failure(reason: str, at: str) -> KubeFailure:
    return KubeFailure(
        F.TLS,
        f"TLS with the server{at} failed: {clip(reason, 200)}. Give the cluster's CA certificate, or check the server URL.",
    )


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    # urllib3 puts the connection object's repr first; keep the human part
    if "object at 0x" in line and ":" in line:
        line = line.split(":", 1)[1].strip()
    return clip(line)
