"""An ApiClient of the official kubernetes client, built from a fabric's stored credentials."""

from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from kubernetes import client as k8s
from kubernetes.config.kube_config import KubeConfigLoader

from .. import outbound, settings
from ..choices import FailureCodeChoices as F
from ..credentials import reveal
from ..validators.kubeconfig import KubeconfigRefused, safe_kubeconfig
from .errors import KubeFailure, classify


@dataclass
class ClusterAccess:
    api: k8s.ApiClient
    server: str
    namespace: str
    timeout: tuple[float, float]  # (connect, whole request) for _request_timeout
    summary: str  # how we connect, for job logs (never a secret)

    def close(self):
        self.api.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def timeouts() -> tuple[float, float]:
    return (float(settings.get("connect_timeout")), float(settings.get("request_timeout")))


def _configuration_from_token(fabric) -> k8s.Configuration:
    url = fabric.kubernetes_server
    cfg = k8s.Configuration(host=url.rstrip("/"))
    token = reveal(fabric, "kubernetes_token")
    if token:
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
    if fabric.kubernetes_ca_cert:
        cfg.ca_cert_data = fabric.kubernetes_ca_cert
    return cfg


def _configuration_from_kubeconfig(fabric) -> k8s.Configuration:
    """The client configuration from a sanitised copy of the stored kubeconfig.

    The rule of validators.kubeconfig is enforced here again, whatever the row holds (a kubeconfig
    stored before the rule, or written by a migration or a script): a kubeconfig that would run a
    command or read a file is refused as bad_configuration, and the loader only ever sees the copy,
    which holds nothing but inline data.
    """
    try:
        safe = safe_kubeconfig(reveal(fabric, "kubeconfig"), fabric.kubeconfig_context)
    except KubeconfigRefused as exc:
        raise KubeFailure(F.BAD_CONFIGURATION, f"The kubeconfig cannot be used: {exc.message}") from None
    except Exception as exc:  # noqa: BLE001 - unreadable credentials etc., classified, never swallowed
        raise classify(exc) from None
    try:
        loader = KubeConfigLoader(config_dict=safe.config, active_context=safe.context)
        cfg = k8s.Configuration()
        loader.load_and_set(cfg)
    except Exception as exc:  # noqa: BLE001 - every kubeconfig problem is classified, none swallowed
        raise classify(exc) from None
    return cfg


def connect(fabric) -> ClusterAccess:
    """The client for a fabric; raises KubeFailure (bad_configuration) when it cannot be built."""
    if fabric.kubeconfig:
        cfg = _configuration_from_kubeconfig(fabric)
        how = "kubeconfig" + (f" (context {fabric.kubeconfig_context})" if fabric.kubeconfig_context else "")
    elif fabric.kubernetes_server:
        try:
            cfg = _configuration_from_token(fabric)
        except Exception as exc:  # noqa: BLE001 - classified (unreadable credentials), never swallowed
            raise classify(exc) from None
        how = "bearer token" if fabric.kubernetes_token else "no credentials"
    else:
        raise KubeFailure(
            F.BAD_CONFIGURATION, "No connection settings: give an API server URL and token, or a kubeconfig."
        )
    scheme = urlsplit(cfg.host).scheme
    if scheme == "http" and not fabric.kubernetes_allow_http:
        raise KubeFailure(
            F.BAD_CONFIGURATION,
            "The API server URL is plain http: allow plain HTTP explicitly, or use https.",
        )
    if not fabric.kubernetes_verify_tls:
        cfg.verify_ssl = False
    # Our backoff decides when to try again: the client's own silent retries are off.
    cfg.retries = False
    ca = "CA given" if cfg.ca_cert_data or cfg.ssl_ca_cert else "system CAs"
    tls = "TLS verified" if cfg.verify_ssl else "TLS NOT verified"
    summary = (
        f"{cfg.host} with {how}, {ca}, {tls}" if scheme == "https" else f"{cfg.host} with {how} (plain HTTP)"
    )
    api = k8s.ApiClient(cfg)
    pool = api.rest_client.pool_manager
    if type(pool) is urllib3.PoolManager:
        outbound.guard(pool)  # never the NetBox host's loopback or a metadata service
    else:
        # Through the operator's proxy (HTTPS_PROXY in the worker's environment) the socket goes to
        # the proxy: the server's name is checked here instead, as resolved now, every address.
        try:
            parts = urlsplit(cfg.host)
            outbound.none_blocked(parts.hostname or "", parts.port or (443 if scheme == "https" else 80))
        except Exception as exc:  # noqa: BLE001 - blocked, or a name that does not resolve: classified
            api.close()
            raise classify(exc, server=cfg.host) from None
    return ClusterAccess(
        api=api,
        server=cfg.host,
        namespace=fabric.kubernetes_namespace or "default",
        timeout=timeouts(),
        summary=summary,
    )
