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

import hashlib
import json
from dataclasses import asdict, dataclass, field

from django.db import transaction
from kubernetes import client as k8s

from .. import settings
from ..choices import FailureCodeChoices, TriggerChoices
from ..choices import ReconcileActionChoices as A
from ..choices import ReconcileDirectionChoices as D
from ..choices import ReconcileOutcomeChoices as O
from ..choices import ResourceSyncStateChoices as S
from ..kube.client import connect
from ..kube.errors import KubeFailure, classify, status_message
from ..models import HedgehogResource
from ..state import kinds as K
from ..state import machine as m
from ..state.resources import compare, user_labels
from . import alerts, rollup, sync
from .maintenance import maintenance_override
from .state import transition

APPLY, ADOPT = D.APPLY, D.ADOPT
DIRECTIONS = tuple(D.values())

# What each direction does to a resource in each sync state (prune decides what happens to extras).
APPLY_ACTIONS = {S.MISSING: A.CREATE, S.DRIFTED: A.PATCH}
ADOPT_ACTIONS = {S.DRIFTED: A.ADOPT, S.EXTRA: A.ADOPT, S.MISSING: A.FORGET}


@dataclass
class Action:
    resource_id: int
    kind: str
    name: str
    action: str  # ReconcileActionChoices
    outcome: str = O.PLANNED  # ReconcileOutcomeChoices
    message: str = ""
    # a patch or an adoption: the fields that change ({path, desired, actual}, as the resource page)
    changes: list = field(default_factory=list)
    # what the plan was made from (the plan token covers it; not reported)
    basis: str = field(default="", repr=False)


class PlanChanged(Exception):
    """The plan a person previewed is not the plan a reconciliation would now run."""


PLAN_CHANGED = (
    "The plan changed since it was previewed (the cluster or NetBox changed, or another direction "
    "or prune was chosen): nothing was done. Preview it again."
)


def plan_token(direction: str, prune: bool, actions) -> str:
    """A fingerprint of a plan: its direction, prune, and each action with what it was made from
    (the resource's cluster version and NetBox's last edit). "Reconcile now" runs a plan only when
    its token is the previewed one."""
    payload = [direction, bool(prune), [(a.resource_id, a.action, a.basis) for a in actions]]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def _state_of(row) -> str:
    """A row's sync state; one left in error by an earlier reconciliation is judged again from what
    NetBox wants and what the cluster has, so that it is retried once its cause is fixed."""
    if row.sync_state != S.ERROR:
        return row.sync_state
    state, _ = compare(
        row.read_only,
        row.desired_spec,
        row.desired_labels,
        row.actual_spec,
        row.actual_labels,
        settings.drift_ignore_rules(row.kind),
    )
    return state


def plan(fabric, direction: str, prune: bool, only=None) -> list[Action]:
    """What a reconciliation would do, in the order it would do it (of the resources `only`, when given)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    read_only = [k.kind for k in K.ALL if k.read_only]
    rows = (
        HedgehogResource.objects.filter(fabric=fabric)
        .exclude(sync_state=S.IN_SYNC)
        .exclude(kind__in=read_only)
    )
    if only is not None:
        rows = rows.filter(pk__in=list(only))
    basis = ("pk", "kind", "name", "sync_state", "diff", "resource_version", "last_updated")
    errored = rows.filter(sync_state=S.ERROR).only(
        *basis, "desired_spec", "desired_labels", "actual_spec", "actual_labels"
    )
    actions = []
    for row in [*rows.exclude(sync_state=S.ERROR).only(*basis), *errored]:
        state = _state_of(row)
        if direction == APPLY:
            what = APPLY_ACTIONS.get(state) or ((A.DELETE if prune else A.KEEP) if state == S.EXTRA else None)
        else:
            what = ADOPT_ACTIONS.get(state)
        if what:
            changes = list(row.diff or []) if what in (A.PATCH, A.ADOPT) else []
            made_from = f"{row.resource_version}|{row.last_updated.isoformat() if row.last_updated else ''}"
            actions.append(Action(row.pk, row.kind, row.name, what, changes=changes, basis=made_from))
    first = len(K.CREATE_ORDER)
    creates = sorted(
        (a for a in actions if a.action != A.DELETE),
        key=lambda a: (K.CREATE_ORDER.get(a.kind, first), a.name),
    )
    deletes = sorted(
        (a for a in actions if a.action == A.DELETE),
        key=lambda a: (-K.CREATE_ORDER.get(a.kind, first), a.name),
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
    if action == A.CREATE:
        custom.create_namespaced_custom_object(*args, _body(row), _request_timeout=timeout, **extra)
    elif action == A.PATCH:
        patch = {"spec": row.desired_spec}
        if row.desired_labels:
            patch["metadata"] = {"labels": row.desired_labels}
        custom.patch_namespaced_custom_object(*args, row.name, patch, _request_timeout=timeout, **extra)
    elif action == A.DELETE:
        custom.delete_namespaced_custom_object(*args, row.name, _request_timeout=timeout, **extra)


def _apply(fabric, actions, dry_run, log):
    """Send the writes; an error of one resource is recorded and the others go on, unless the
    cluster itself is gone (then KubeFailure ends the run)."""
    rows = {r.pk: r for r in HedgehogResource.objects.filter(pk__in=[a.resource_id for a in actions])}
    with connect(fabric) as access:
        custom = k8s.CustomObjectsApi(access.api)
        for action in actions:
            row = rows[action.resource_id]
            if action.action == A.KEEP:
                action.outcome, action.message = O.SKIPPED, "only in the cluster; prune was not asked"
                continue
            try:
                _send(custom, row, action.action, dry_run, access.timeout)
            except Exception as exc:  # noqa: BLE001 - classified; the resource's own error is kept
                failure = classify(exc, server=access.server, timeout=access.timeout)
                # a 403 on a write is usually an admission webhook's refusal of that one object
                if (
                    failure.code in FailureCodeChoices.CONNECTION_LOSS
                    and failure.code != FailureCodeChoices.FORBIDDEN
                ):
                    raise failure from exc
                said = status_message(exc) if isinstance(exc, k8s.ApiException) else ""
                action.outcome = O.REFUSED if isinstance(exc, k8s.ApiException) else O.FAILED
                action.message = said or failure.message
                if not dry_run:
                    HedgehogResource.objects.filter(pk=row.pk).update(
                        sync_error=action.message, sync_state=S.ERROR
                    )
            else:
                action.outcome = O.WOULD_SUCCEED if dry_run else O.OK
                if not dry_run:
                    HedgehogResource.objects.filter(pk=row.pk).update(sync_error="")
            log(
                f"{action.action} {action.kind} {action.name}: {action.outcome}{': ' + action.message if action.message else ''}"
            )


def _adopt(actions, dry_run, log):
    for action in actions:
        row = HedgehogResource.objects.get(pk=action.resource_id)
        if not dry_run:
            if action.action == A.FORGET:
                with rollup.batch():  # recounted once at the end
                    row.delete()
            else:
                row.desired_spec = row.actual_spec
                row.desired_labels = user_labels(row.actual_labels)
                row.compare_again()
                HedgehogResource.objects.filter(pk=row.pk).update(
                    desired_spec=row.desired_spec,
                    desired_labels=row.desired_labels,
                    sync_state=row.sync_state,
                    diff=row.diff,
                    sync_error="",
                )
        action.outcome = O.WOULD_SUCCEED if dry_run else O.OK
        log(f"{action.action} {action.kind} {action.name}: {action.outcome}")


def reconcile(
    fabric,
    direction: str,
    *,
    dry_run: bool = True,
    prune: bool = False,
    user=None,
    job=None,
    log=None,
    only=None,
    expected_plan=None,
) -> dict:
    """Run (or, with dry_run, preview) a reconciliation; returns the report of every action and the
    plan's token.

    `only` limits it to those resources (ids): an alert's follow-up reconciles the one it is about.
    `expected_plan`: the token of a previewed plan; a run whose plan differs raises PlanChanged
    and does nothing (someone ticked another direction, the cluster or NetBox changed since).
    """
    log = log or (lambda message: None)
    actions = plan(fabric, direction, prune, only)
    token = plan_token(direction, prune, actions)
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
            "plan": token,
            "actions": [_reported(a) for a in actions],
        }
    if expected_plan and expected_plan != token:
        raise PlanChanged(PLAN_CHANGED)
    with sync.exclusive(fabric) as alone:
        if not alone:
            log("A sync or reconciliation of this fabric is running: nothing done")
            return {"direction": direction, "dry_run": False, "skipped": "another sync is running"}
        report = _reconcile(fabric, direction, actions, prune, user, job, log)
        report["plan"] = token
        return report


def _reported(action) -> dict:
    report = asdict(action)
    report.pop("basis")
    return report


def check_plan(fabric, direction, prune, expected, only=None):
    """Raise PlanChanged unless the plan a reconciliation would run now has the token `expected`."""
    if plan_token(direction, prune, plan(fabric, direction, prune, only)) != expected:
        raise PlanChanged(PLAN_CHANGED)


class CannotAsk(Exception):
    """A preview needs the cluster: the fabric is not connected (or in maintenance, not overridden)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.message, self.code = message, code


def preview(fabric, direction, *, prune=False, override=False, user=None) -> dict:
    """A person's dry run. Refused (CannotAsk) when the fabric is not connected, and in
    maintenance unless `override` (then the override is written in the fabric's journal)."""
    if m.suspended(fabric.state):
        if not override:
            raise CannotAsk(m.SUSPENDED_MESSAGE, "in_maintenance")
        maintenance_override(fabric, user, f"previewed a reconciliation ({direction})")
    if not m.last_known_connected(fabric.state):
        raise CannotAsk(
            f"Could not ask the cluster: the fabric's connection is {fabric.get_connection_status_display()}. "
            "Test the connection first.",
            "not_connected",
        )
    return reconcile(fabric, direction, dry_run=True, prune=prune)


def describe_request(direction: str, prune: bool) -> str:
    return f"Reconciliation: {direction}{' with prune' if prune else ''}"


def _reconcile(fabric, direction, actions, prune, user, job, log):
    fabric.refresh_from_db()
    sync.begin(
        fabric,
        trigger=TriggerChoices.RECONCILIATION,
        user=user,
        job=job,
        reason=describe_request(direction, prune),
    )
    try:
        if direction == APPLY:
            _apply(fabric, actions, False, log)
        else:
            _adopt(actions, False, log)
        failed = [a for a in actions if a.outcome in O.UNSUCCESSFUL]
        with connect(fabric) as access, transaction.atomic():
            sync.SyncRun(fabric, access, adopt=False, log=log).run()
            # keep the refusals visible: the re-read compares again, the error stays on those rows
            for action in failed:
                HedgehogResource.objects.filter(pk=action.resource_id).update(
                    sync_state=S.ERROR, sync_error=action.message
                )
            messages = {a.resource_id: a.message for a in failed}
            for resource in HedgehogResource.objects.filter(pk__in=messages).select_related("fabric"):
                alerts.resource_refused(resource, messages[resource.pk], user=user)
            alerts.resources_recovered(fabric, [a.resource_id for a in actions if a.outcome == O.OK])
            if failed:
                fabric.refresh_state(lock=True)
                counts = rollup.summary(fabric)
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
                counts = sync.finish(fabric, job=job, trigger=TriggerChoices.RECONCILIATION)
    except Exception as exc:  # noqa: BLE001 - classified and recorded, then raised
        failure = exc if isinstance(exc, KubeFailure) else classify(exc)
        log(f"Reconciliation failed [{failure.code}]: {failure.message}")
        sync.fail(fabric, exc, failure, job=job, trigger=TriggerChoices.RECONCILIATION)
        raise failure from exc
    return {
        "direction": direction,
        "dry_run": False,
        "prune": prune,
        "actions": [_reported(a) for a in actions],
        "resources": counts,
    }
