"""Validation of connection settings, shared by the form, the REST serializer and the model.

Each function raises django.core.exceptions.ValidationError with a message that says what is
wrong; none of them echoes a secret.
"""

from urllib.parse import urlsplit

from cryptography import x509
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .. import outbound
from .kubeconfig import KubeconfigRefused, safe_kubeconfig


def validate_server_url(url: str, allow_http: bool):
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        valid = parts is not None and parts.scheme in ("https", "http") and bool(parts.hostname)
        if valid:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        valid = False
    if not valid:
        raise ValidationError(
            _("Give the API server as a URL such as https://fabric.example.net:6443."), code="invalid"
        )
    refusal = outbound.host_refusal(parts.hostname)
    if refusal:
        raise ValidationError(refusal, code="invalid")
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
    """Check a kubeconfig: data only (see validators.kubeconfig), the context to use exists and names
    a cluster and user, and its server URL is acceptable."""
    try:
        safe = safe_kubeconfig(text, context)
    except KubeconfigRefused as exc:
        raise ValidationError(exc.message, code="invalid") from None
    validate_server_url(safe.server, allow_http)


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
