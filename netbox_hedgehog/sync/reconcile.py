"""Reconciliation: bring NetBox and the cluster back together, in either direction.

* apply: NetBox's desired state goes to the cluster — create what is missing, merge-patch what
  drifted (spec and the labels NetBox sets; a key set to null in the desired spec is removed),
  delete what exists only in the cluster when `prune` is asked. Creation and patches follow the
  dependency order of sync.kinds.MANAGED (namespaces, switches, servers, connections, VPCs,
  attachments, peerings); deletions the reverse.
* adopt: the cluster's state becomes NetBox's desired state (drifted and extra resources take the
  cluster's spec; a missing one is no longer wanted).

A dry run plans and, for apply, sends every write with dryRun=All so Hedgehog's admission webhooks
judge it, and changes nothing. A real run moves the fabric to syncing (trigger reconciliation),
records each resource's outcome (an admission error is kept as the API server gave it), re-reads
the cluster and ends in_sync, out_of_sync or error like a sync.
"""

from dataclasses import asdict, dataclass

from django.db import transaction
from kubernetes import client as k8s

from ..choices import ResourceSyncStateChoices as S
from ..choices import TriggerChoices
from ..kube.client import connect
from ..kube.errors import KubeFailure, _status_message, classify
from ..models import HedgehogResource
from ..state import machine as m
from ..state import transition
from . import engine
from .compare import compare, user_labels
from .kinds import CREATE_ORDER

APPLY, ADOPT = "apply", "adopt"
DIRECTIONS = (APPLY, ADOPT)


@dataclass
class Action:
    resource_id: int
    kind: str
    name: str
    action: str  # create, patch, delete, keep (apply); adopt, forget (adopt)
    outcome: str = "planned"  # planned, ok, would succeed, refused, failed, skipped
    message: str = ""


def plan(fabric, direction: str, prune: bool) -> list[Action]:
    """What a reconciliation would do, in the order it would do it."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    rows = HedgehogResource.objects.filter(fabric=fabric).exclude(sync_state=S.IN_SYNC).exclude(kind="Agent")
    actions = []
    for row in rows.only("pk", "kind", "name", "sync_state"):
        if direction == APPLY:
            what = {S.MISSING: "create", S.DRIFTED: "patch", S.EXTRA: "delete" if prune else "keep"}.get(
                row.sync_state
            )
        else:
            what = {S.DRIFTED: "adopt", S.EXTRA: "adopt", S.MISSING: "forget"}.get(row.sync_state)
        if what:
            actions.append(Action(row.pk, row.kind, row.name, what))
    first = len(CREATE_ORDER)
    creates = sorted(
        (a for a in actions if a.action != "delete"), key=lambda a: (CREATE_ORDER.get(a.kind, first), a.name)
    )
    deletes = sorted(
        (a for a in actions if a.action == "delete"), key=lambda a: (-CREATE_ORDER.get(a.kind, first), a.name)
    )
    return creates + deletes


def _body(row) -> dict:
    metadata = {"name": row.name, "namespace": row.namespace}
    if row.desired_labels:
        metadata["labels"] = row.desired_labels
    return {
        "apiVersion": f"{row.api_group}/{row.api_version}",
        "kind": row.kind,
        "metadata": metadata,
        "spec": row.desired_spec,
    }


def _send(custom, row, action, dry_run, timeout):
    args = (row.api_group, row.api_version, row.namespace, row.plural)
    extra = {"dry_run": "All"} if dry_run else {}
    if action == "create":
        custom.create_namespaced_custom_object(*args, _body(row), _request_timeout=timeout, **extra)
    elif action == "patch":
        patch = {"spec": row.desired_spec}
        if row.desired_labels:
            patch["metadata"] = {"labels": row.desired_labels}
        custom.patch_namespaced_custom_object(*args, row.name, patch, _request_timeout=timeout, **extra)
    elif action == "delete":
        custom.delete_namespaced_custom_object(*args, row.name, _request_timeout=timeout, **extra)


def _apply(fabric, actions, dry_run, log):
    """Send the writes; an error of one resource is recorded and the others go on, unless the
    cluster itself is gone (then KubeFailure ends the run)."""
    from ..connection import CONNECTION_LOSS

    rows = {r.pk: r for r in HedgehogResource.objects.filter(pk__in=[a.resource_id for a in actions])}
    with connect(fabric) as access:
        custom = k8s.CustomObjectsApi(access.api)
        for action in actions:
            row = rows[action.resource_id]
            if action.action == "keep":
                action.outcome, action.message = "skipped", "only in the cluster; prune was not asked"
                continue
            try:
                _send(custom, row, action.action, dry_run, access.timeout)
            except Exception as exc:  # noqa: BLE001 - classified; the resource's own error is kept
                failure = classify(exc, server=access.server, timeout=access.timeout)
                # a 403 on a write is usually an admission webhook's refusal of that one object
                if failure.code in CONNECTION_LOSS and failure.code != "forbidden":
                    raise failure from exc
                said = _status_message(exc) if isinstance(exc, k8s.ApiException) else ""
                action.outcome = "refused" if isinstance(exc, k8s.ApiException) else "failed"
                action.message = said or failure.message
                if not dry_run:
                    HedgehogResource.objects.filter(pk=row.pk).update(
                        sync_error=action.message, sync_state=S.ERROR
                    )
            else:
                action.outcome = "would succeed" if dry_run else "ok"
                if not dry_run:
                    HedgehogResource.objects.filter(pk=row.pk).update(sync_error="")
            log(
                f"{action.action} {action.kind} {action.name}: {action.outcome}{': ' + action.message if action.message else ''}"
            )


def _adopt(actions, dry_run, log):
    for action in actions:
        row = HedgehogResource.objects.get(pk=action.resource_id)
        if not dry_run:
            if action.action == "forget":
                row.delete()
            else:
                row.desired_spec = row.actual_spec
                row.desired_labels = user_labels(row.actual_labels)
                row.sync_state, row.diff = compare(
                    row.kind, False, row.desired_spec, row.desired_labels, row.actual_spec, row.actual_labels
                )
                HedgehogResource.objects.filter(pk=row.pk).update(
                    desired_spec=row.desired_spec,
                    desired_labels=row.desired_labels,
                    sync_state=row.sync_state,
                    diff=row.diff,
                    sync_error="",
                )
        action.outcome = "would succeed" if dry_run else "ok"
        log(f"{action.action} {action.kind} {action.name}: {action.outcome}")


def reconcile(
    fabric, direction: str, *, dry_run: bool = True, prune: bool = False, user=None, job=None, log=None
) -> dict:
    """Run (or, with dry_run, preview) a reconciliation; returns the report of every action."""
    log = log or (lambda message: None)
    actions = plan(fabric, direction, prune)
    log(f"{'Dry run: ' if dry_run else ''}{direction}, prune={prune}: {len(actions)} action(s)")
    if dry_run:
        if direction == APPLY and actions:
            _apply(fabric, actions, True, log)
        elif actions:
            _adopt(actions, True, log)
        return {
            "direction": direction,
            "dry_run": True,
            "prune": prune,
            "actions": [asdict(a) for a in actions],
        }
    from .operations import _try_lock, _unlock

    if not _try_lock(fabric):
        log("A sync or reconciliation of this fabric is running: nothing done")
        return {"direction": direction, "dry_run": False, "skipped": "another sync is running"}
    try:
        return _reconcile(fabric, direction, actions, prune, user, job, log)
    finally:
        _unlock(fabric)


def _reconcile(fabric, direction, actions, prune, user, job, log):
    from .operations import fail, finish

    fabric.refresh_from_db()
    if fabric.sync_status != m.SYNCING:
        transition(
            fabric,
            m.SYNC,
            m.SYNCING,
            trigger=TriggerChoices.RECONCILIATION,
            user=user,
            job=job,
            reason=f"Reconciliation: {direction}{' with prune' if prune else ''}",
        )
    try:
        if direction == APPLY:
            _apply(fabric, actions, False, log)
        else:
            _adopt(actions, False, log)
        failed = [a for a in actions if a.outcome in ("refused", "failed")]
        with connect(fabric) as access, transaction.atomic():
            engine.SyncRun(fabric, access, adopt=False, log=log).run()
            # keep the refusals visible: the re-read compares again, the error stays on those rows
            for action in failed:
                HedgehogResource.objects.filter(pk=action.resource_id).update(
                    sync_state=S.ERROR, sync_error=action.message
                )
            counts = engine.summary(fabric)
            if failed:
                transition(
                    fabric,
                    m.SYNC,
                    m.ERROR,
                    trigger=TriggerChoices.RECONCILIATION,
                    job=job,
                    reason=f"[reconcile] {len(failed)} resource(s) refused: "
                    + "; ".join(f"{a.kind} {a.name}: {a.message}" for a in failed[:5]),
                    details={"sync_summary": counts},
                )
            else:
                finish(fabric, counts, job=job, trigger=TriggerChoices.RECONCILIATION)
    except Exception as exc:  # noqa: BLE001 - classified and recorded, then raised
        failure = exc if isinstance(exc, KubeFailure) else classify(exc)
        log(f"Reconciliation failed [{failure.code}]: {failure.message}")
        fail(fabric, exc, failure, job=job, trigger=TriggerChoices.RECONCILIATION)
        raise failure from exc
    return {
        "direction": direction,
        "dry_run": False,
        "prune": prune,
        "actions": [asdict(a) for a in actions],
        "resources": counts,
    }


def request_reconcile(fabric, direction: str, *, prune: bool = False, user=None):
    """Start a reconciliation job: syncing now (refused with the reason when it cannot), one job.

    Returns (job, created); a pending or running sync or reconciliation is returned instead.
    """
    from ..jobs import ReconcileJob
    from ..models import HedgehogFabric
    from .operations import pending_sync_job

    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    with transaction.atomic():
        HedgehogFabric.objects.select_for_update().filter(pk=fabric.pk).first()
        running = pending_sync_job(fabric)
        if running is not None:
            return running, False
        transition(
            fabric,
            m.SYNC,
            m.SYNCING,
            trigger=TriggerChoices.RECONCILIATION,
            user=user,
            reason=f"Reconciliation: {direction}{' with prune' if prune else ''}",
        )
        job = ReconcileJob.enqueue(instance=fabric, user=user, direction=direction, prune=prune)
    return job, True
