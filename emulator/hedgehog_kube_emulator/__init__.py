"""An emulated Kubernetes API server with the Hedgehog Fabric API, for netbox-hedgehog's tests and demo.

No real kube-apiserver can run where the plugin is developed and tested, so its tests and its demo
talk to this emulator instead: over real HTTP(S) on 127.0.0.1, with the official ``kubernetes``
client used exactly as against a real cluster. It is test support, not part of the plugin: no
Django, no NetBox, no import of netbox_hedgehog, and the plugin's wheel never carries it.

Usage from a synchronous test::

    with EmulatedCluster(token="secret") as cluster:
        cluster.seed(demo_fabric_yaml())
        api = kubernetes.config.new_client_from_config_dict(yaml.safe_load(cluster.kubeconfig()))
        kubernetes.client.CustomObjectsApi(api).list_namespaced_custom_object(
            "vpc.githedgehog.com", "v1beta1", "default", "vpcs", limit=50)
        cluster.fail_next(status=503)        # the next request answers 503
        cluster.set_latency(math.inf)        # requests hang: client-side timeouts
        cluster.set_mode("forbidden")        # every request answers 403
        cluster.patch_object("agent.githedgehog.com", "v1beta1", "agents", "leaf-01",
                             {"status": {"lastAppliedGen": 3}})   # an agent catches up

    with EmulatedCluster(resources=ARGOCD_RESOURCES) as cluster:   # Argo CD Applications too
        cluster.set_application("dc1", sync="OutOfSync", health="Progressing", phase="Running")
        cluster.set_application("dc1")                # Synced, Healthy, Succeeded
        cluster.agent_applies("leaf-03")              # lastAppliedGen = metadata.generation
        cluster.agent_new_generation("leaf-01")       # a new configuration, not applied yet
        cluster.agent_heartbeat("leaf-02", at=datetime.now(UTC) - timedelta(minutes=5))  # stopped

and as a process (the demo cluster): ``python -m hedgehog_kube_emulator --help``.

What it emulates
----------------
Discovery (``/version``, ``/api``, ``/apis``, group/version resource lists, with and without a
trailing slash); bearer-token auth checked before anything else (401/403 with Status bodies); the
Hedgehog groups (vpc, wiring, agent; ``hedgehog=False`` serves none), Argo CD Applications
(``resources=ARGOCD_RESOURCES``), namespaces and CustomResourceDefinitions;
get/list/watch/create/update(PUT)/patch(merge, JSON, a simplified apply)/delete/deletecollection
with server metadata (uid, integer resourceVersions, generation, timestamps, managedFields), the
status subresource, finalizers and deletionTimestamp, ``dryRun=All``, pagination with continue
tokens (410 once expired), label and field selectors, watches from a resourceVersion with
``timeoutSeconds``, 410 Expired once the event history has moved past it and 504 "Too large resource
version" when it is ahead of the store (after ``restart()``), a light emulation of
Hedgehog's mutating and validating webhooks, and fault injection.

Where to find what
------------------
``server``      ``EmulatedCluster`` (the thread, the loop, the test-facing API), ``BlackHole``,
                ``NeverAccepting``, ``closed_port_url``
``dispatch``    ``HedgehogEmulator``: the HTTP entry, routing and the verbs (get, create, PUT,
                patch, delete, deletecollection, dry run), kmock DSL reactions
``request``     the API path, the verb, headers and body of a request
``auth``        bearer token, modes (unauthorized, forbidden, read-only)
``faults``      injected errors, malformed JSON, disconnects, latency
``discovery``   /version, /api, /apis and resource lists
``lists``       LIST pages, continue tokens and their expiry
``watch``       WATCH streams, replay from a resourceVersion, 410
``store``       tables, resourceVersions, event history and compaction, deletion and finalizers,
                the tests' back door (put, patch, remove)
``metadata``    what the server adds to a written object (uid, generation, managedFields), name
                and kind checks, the status subresource
``admission``   Hedgehog's webhook defaults and denials
``patches``     JSON merge patch and JSON patch
``selectors``   label and field selectors
``catalogue``   the resource types served, CRDs, the demo fabric
``gitops``      what Argo CD and the agents write (an Application's status, an agent applying, a
                heartbeat) and ``DemoActivity``, the demo cluster's timeline
``objects``     stored objects as JSON: copies, encoding, keys, timestamps
``errors``      Kubernetes Status errors
``tls``         the CA and server certificate

Known gaps
----------
No schema validation of objects against the CRDs, no controllers (agents never apply anything by
themselves and Argo CD never syncs: tests move them with ``agent_applies``, ``agent_heartbeat``,
``set_application``; only the demo's ``--demo-activity`` moves them by a timeline), no garbage collection by
ownerReferences, no server-side apply field ownership (apply is a merge patch that creates missing
objects), approximate managedFields, no strategic merge patch (415, as for real custom resources),
no Table output, no watch bookmarks, no generateName, no health endpoints (/healthz...), JSON request
bodies only (as the official client and kubectl send), continue pages read the current state (not a
snapshot at the first page's resourceVersion), request bodies are limited to 1 MiB (413), and
everything is in memory and lost on stop.
"""

from .catalogue import ARGOCD_RESOURCES, HEDGEHOG_GROUPS, HEDGEHOG_RESOURCES, ResourceType, demo_fabric_yaml
from .dispatch import HedgehogEmulator, RequestRecord
from .gitops import DemoActivity, application, application_status
from .server import BlackHole, EmulatedCluster, NeverAccepting, closed_port_url

__all__ = [
    "ARGOCD_RESOURCES",
    "HEDGEHOG_GROUPS",
    "HEDGEHOG_RESOURCES",
    "BlackHole",
    "DemoActivity",
    "EmulatedCluster",
    "HedgehogEmulator",
    "NeverAccepting",
    "RequestRecord",
    "ResourceType",
    "application",
    "application_status",
    "closed_port_url",
    "demo_fabric_yaml",
]
