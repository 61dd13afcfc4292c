"""Validation of connection settings, shared by the form, the REST serializer and the model.

Each function raises django.core.exceptions.ValidationError with a message that says what is
wrong; none of them echoes a secret.
"""

from urllib.parse import urlsplit

import yaml
from cryptography import x509
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def validate_server_url(url: str, allow_http: bool):
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError(
            _("Give the API server as a URL such as https://fabric.example.net:6443."), code="invalid"
        )
    if parts.scheme == "http" and not allow_http:
        raise ValidationError(
            _(
                "The API server URL is plain http: the token would travel in clear. Use https, or allow "
                "plain HTTP explicitly."
            ),
            code="insecure",
        )


def validate_token(token: str):
    """A bearer token is one printable word: a space, a line break or a control character inside it
    (a token wrapped when copied) would make an invalid Authorization header."""
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        raise ValidationError(
            _(
                "The token must be one line without spaces or control characters: give it without "
                "'Bearer ', and check it was not wrapped when copied."
            ),
            code="invalid",
        )


def validate_ca_pem(text: str):
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ValidationError(
            _("The CA certificate must be PEM text starting with -----BEGIN CERTIFICATE-----."),
            code="invalid",
        )
    try:
        x509.load_pem_x509_certificates(text.strip().encode())
    except ValueError as exc:
        raise ValidationError(
            _("The CA certificate is not valid PEM: {error}").format(error=str(exc)[:200]), code="invalid"
        ) from None


def validate_kubeconfig(text: str, context: str = "", allow_http: bool = False):
    """Check a kubeconfig's shape and that the context to use exists and names a cluster and user."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ValidationError(
            _("The kubeconfig is not valid YAML{where}.").format(where=where), code="invalid"
        ) from None
    if not isinstance(data, dict):
        raise ValidationError(
            _("The kubeconfig must be a YAML mapping (apiVersion: v1, kind: Config)."), code="invalid"
        )
    for key in ("clusters", "contexts", "users"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise ValidationError(_("The kubeconfig has no {key}.").format(key=key), code="invalid")
    contexts = {c.get("name"): c.get("context") or {} for c in data["contexts"] if isinstance(c, dict)}
    name = context or data.get("current-context")
    if not name:
        raise ValidationError(
            _("The kubeconfig has no current-context: name the context to use."), code="invalid"
        )
    if name not in contexts:
        raise ValidationError(
            _("The kubeconfig has no context {name!r}; it has: {names}.").format(
                name=name, names=", ".join(sorted(str(n) for n in contexts))
            ),
            code="invalid",
        )
    clusters = {c.get("name"): c.get("cluster") or {} for c in data["clusters"] if isinstance(c, dict)}
    users = {u.get("name") for u in data["users"] if isinstance(u, dict)}
    ctx = contexts[name]
    if ctx.get("cluster") not in clusters:
        raise ValidationError(
            _("Context {name!r} names cluster {cluster!r}, which the kubeconfig does not define.").format(
                name=name, cluster=ctx.get("cluster")
            ),
            code="invalid",
        )
    if ctx.get("user") not in users:
        raise ValidationError(
            _("Context {name!r} names user {user!r}, which the kubeconfig does not define.").format(
                name=name, user=ctx.get("user")
            ),
            code="invalid",
        )
    server = clusters[ctx["cluster"]].get("server")
    if not server:
        raise ValidationError(_("The kubeconfig's cluster has no server URL."), code="invalid")
    validate_server_url(server, allow_http)


def validate_connection(*, server, token_set, ca_cert, kubeconfig, context, allow_http, token="") -> dict:
    """All connection settings together; returns {field: [messages]} (empty when valid)."""
    errors = {}

    def check(field, fn, *args):
        try:
            fn(*args)
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)

    if kubeconfig and server:
        errors.setdefault("kubeconfig", []).append(
            _("Give either an API server URL (with a token) or a kubeconfig, not both.")
        )
    if server:
        check("kubernetes_server", validate_server_url, server, allow_http)
    elif token_set and not kubeconfig:
        errors.setdefault("kubernetes_server", []).append(_("A token needs the API server URL it is for."))
    if token:
        check("kubernetes_token", validate_token, token)
    if ca_cert:
        check("kubernetes_ca_cert", validate_ca_pem, ca_cert)
    if kubeconfig:
        check("kubeconfig", validate_kubeconfig, kubeconfig, context, allow_http)
    elif context:
        errors.setdefault("kubeconfig_context", []).append(_("A context needs a kubeconfig."))
    return errors
