"""Kubernetes' own naming rules, checked when a resource is given (not only when the cluster refuses
it at reconcile time): object names, namespaces, label keys and values."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# RFC 1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric, at most 63.
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# RFC 1123 subdomain: labels joined by '.', at most 253.
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# A label name (the part after an optional "prefix/"), and a label value: alphanumerics, '-', '_'
# and '.', starting and ending alphanumeric, at most 63 (a value may be empty).
LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def validate_object_name(value: str):
    if not isinstance(value, str) or len(value) > 253 or not DNS_SUBDOMAIN.fullmatch(value):
        raise ValidationError(
            _(
                "{value!r} is not a Kubernetes object name: lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit, at most 253 characters."
            ).format(value=value),
            code="invalid",
        )


def validate_namespace(value: str):
    if not isinstance(value, str) or len(value) > 63 or not DNS_LABEL.fullmatch(value):
        raise ValidationError(
            _(
                "{value!r} is not a Kubernetes namespace: lowercase letters, digits and '-', starting "
                "and ending with a letter or digit, at most 63 characters."
            ).format(value=value),
            code="invalid",
        )


def label_problem(key: str, value: str) -> str:
    """Why a label (key: value) is not a Kubernetes label, or "" when it is one."""
    prefix, _slash, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(prefix)):
        return _("the key's prefix {prefix!r} is not a DNS subdomain").format(prefix=prefix)
    if not name or len(name) > 63 or not LABEL_NAME.fullmatch(name):
        return _(
            "the key {key!r} must be a name of at most 63 letters, digits, '-', '_' or '.' (starting "
            "and ending with a letter or digit), optionally after a DNS prefix and '/'"
        ).format(key=key)
    if value and (len(value) > 63 or not LABEL_NAME.fullmatch(value)):
        return _(
            "the value of {key!r} must be at most 63 letters, digits, '-', '_' or '.', starting and "
            "ending with a letter or digit"
        ).format(key=key)
    return ""


def validate_labels(labels: dict):
    problems = [problem for key, value in labels.items() if (problem := label_problem(key, value))]
    if problems:
        raise ValidationError(_("Not Kubernetes labels: {problems}.").format(problems="; ".join(problems)))
