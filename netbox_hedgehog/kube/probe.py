"""The connection test: what a cluster is, and whether it is a Hedgehog fabric we may read."""

from datetime import UTC, datetime

from kubernetes import client as k8s

from .errors import KubeFailure, classify

# The API groups a Hedgehog fabric serves, with the kinds we need and one we list to check access.
HEDGEHOG_GROUPS = {
    "vpc.githedgehog.com": ("v1beta1", "vpcs"),
    "wiring.githedgehog.com": ("v1beta1", "switches"),
}


# Where probe() leaves the API groups and versions the cluster serves (for the Argo CD read that
# follows: kube/argocd.py); popped by the caller, never kept in cluster_info.
SERVED = "_served_groups"


def probe(access, log=None, *, known: dict | None = None) -> dict:
    """Ask the cluster for its version and the Hedgehog groups and kinds; check listing works.

    Returns what was found (kept in the fabric's cluster_info), with what `/apis` said under SERVED;
    raises KubeFailure. `known` is the cluster_info of the fabric's last successful test: a health
    check passes it, and a group still served at the same version keeps the kinds found then instead
    of asking for its resource list again (four requests instead of six; a manual test, a retry and
    a group whose version changed ask again).
    """
    log = log or (lambda message: None)
    try:
        return _probe(access, log, (known or {}).get("groups") or {})
    except KubeFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - classified into a KubeFailure, never swallowed
        raise classify(exc, server=access.server, timeout=access.timeout) from exc


def _probe(access, log, known_groups) -> dict:
    timeout = access.timeout
    log(f"Connecting to {access.summary}")
    version = k8s.VersionApi(access.api).get_code(_request_timeout=timeout)
    log(f"Kubernetes {version.git_version} ({version.platform})")
    served = {
        group.name: [v.version for v in group.versions]
        for group in k8s.ApisApi(access.api).get_api_versions(_request_timeout=timeout).groups
    }
    missing = [f"{g}/{v}" for g, (v, _) in HEDGEHOG_GROUPS.items() if v not in served.get(g, [])]
    if missing:
        raise KubeFailure(
            "not_hedgehog",
            f"The cluster (Kubernetes {version.git_version}) does not serve {', '.join(missing)}: "
            "is the Hedgehog fabric installed there?",
        )
    custom = k8s.CustomObjectsApi(access.api)
    groups = {}
    for group, (api_version, check_plural) in HEDGEHOG_GROUPS.items():
        kinds = known_groups.get(f"{group}/{api_version}")
        if kinds:
            log(f"{group}/{api_version}: served, {len(kinds)} kinds as found by the last full test")
        else:
            resources = custom.get_api_resources(group, api_version, _request_timeout=timeout).resources
            kinds = sorted({r.kind for r in resources if "/" not in r.name})
            log(f"{group}/{api_version}: {len(kinds)} kinds ({', '.join(kinds)})")
        groups[f"{group}/{api_version}"] = list(kinds)
        listed = custom.list_namespaced_custom_object(
            group, api_version, access.namespace, check_plural, limit=1, _request_timeout=timeout
        )
        log(
            f"Listing {check_plural} in namespace {access.namespace}: allowed ({len(listed.get('items', []))} seen)"
        )
    # other Hedgehog groups (agent, dhcp, gateway) are recorded when present
    for group, versions in sorted(served.items()):
        if group.endswith(".githedgehog.com") and group not in HEDGEHOG_GROUPS:
            groups.setdefault(f"{group}/{versions[0]}", [])
    return {
        "server_version": version.git_version,
        "platform": version.platform,
        "groups": groups,
        "namespace": access.namespace,
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        SERVED: served,
    }
