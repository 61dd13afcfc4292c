"""Validation of what users give the plugin, shared by forms, the REST API and the models.

`connection` checks connection settings, `kubeconfig` the rule that a kubeconfig is data and never
instructions, `kubernetes` Kubernetes' own naming rules, `documents` the size and depth of JSON
documents. Every check raises django.core.exceptions.ValidationError (or KubeconfigRefused, a
ValueError) with a message that says what is wrong and never echoes a secret.
"""

from .connection import validate_connection

__all__ = ("validate_connection",)
