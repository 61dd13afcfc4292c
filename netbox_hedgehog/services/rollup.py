"""The roll-up of a fabric's resources into its counts (`sync_summary`) and its sync status.

Two ways, both exact:

* `resource_changed`: one resource was saved or deleted (a form, the REST API, a bulk edit or
  delete, a script): the fabric's counts move by one, in one UPDATE of the fabric's row, and an
  in-sync fabric whose resources now differ goes out_of_sync. No GROUP BY per edited row: a bulk
  edit of 5,000 resources costs 5,000 small updates, not 5,000 counts of the whole fabric.
* `recount`: many resources were written at once (a sync, a reconciliation, a batch of watch
  events): the fabric's row is locked, its resources counted once, and the counts and the status
  written.

Writers that handle many rows themselves wrap them in `batch()`, in which `resource_changed` does
nothing (they recount afterwards).

Only drift moves the status here: in_sync -> out_of_sync. A fabric whose resources agree again
stays out_of_sync until a sync or reconciliation confirms it (the table has no other way back).
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, transaction
from django.db.models import Count

from ..choices import TriggerChoices
from ..models import HedgehogFabric, HedgehogResource
from ..state import machine as m
from ..state import resources as R
from .state import InvalidTransition, transition

_batching = ContextVar("hedgehog_rollup_batching", default=False)


@contextmanager
def batch():
    """Within it, single-resource roll-ups are skipped: the code running it recounts afterwards."""
    token = _batching.set(True)
    try:
        yield
    finally:
        _batching.reset(token)


def summary(fabric) -> dict:
    """Counts of the fabric's resources by sync state (every state present, zeros included)."""
    pairs = (
        HedgehogResource.objects.filter(fabric=fabric)
        .values_list("sync_state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return R.counts_of(pairs)


def _drift(fabric, counts, *, trigger, job=None, user=None):
    """An in-sync fabric whose counts show a difference goes out_of_sync (the counts written with it)."""
    if fabric.sync_status != m.IN_SYNC or R.aggregate(counts) != m.OUT_OF_SYNC:
        return False
    try:
        transition(
            fabric,
            m.SYNC,
            m.OUT_OF_SYNC,
            trigger=trigger,
            job=job,
            user=user,
            reason=R.describe(counts),
            details={"sync_summary": counts},
        )
    except InvalidTransition:
        fabric.refresh_state()  # another writer moved it meanwhile; the stored state tells
        return False
    return True


def recount(fabric, *, trigger=TriggerChoices.DRIFT, job=None, user=None) -> dict:
    """Count the fabric's resources again (its row locked meanwhile) and write what follows."""
    with transaction.atomic():
        fabric.refresh_state(lock=True)
        counts = summary(fabric)
        if not _drift(fabric, counts, trigger=trigger, job=job, user=user) and fabric.sync_summary != counts:
            HedgehogFabric.objects.filter(pk=fabric.pk).update(sync_summary=counts)
            fabric.sync_summary = counts
    return counts


def resource_changed(fabric_id: int, before: str | None, after: str | None, *, user=None):
    """One resource of the fabric went from sync state `before` to `after` (None: absent)."""
    if _batching.get() or before == after:
        return
    delta = {}
    if before:
        delta[before] = delta.get(before, 0) - 1
    if after:
        delta[after] = delta.get(after, 0) + 1
    qn = connection.ops.quote_name
    column = qn("sync_summary")
    terms = " || ".join(
        f"jsonb_build_object(%s, COALESCE(({column} ->> %s)::integer, 0) + %s)" for _ in delta
    )
    params = [value for state, n in delta.items() for value in (state, state, n)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(HedgehogFabric._meta.db_table)} SET {column} = {column} || {terms} "
            f"WHERE id = %s RETURNING {qn('sync_status')}",
            [*params, fabric_id],
        )
        found = cursor.fetchone()
    if found is None or found[0] != m.IN_SYNC or after in (None, R.IN_SYNC):
        return  # no such fabric (deleted with it), or nothing that can move its status
    fabric = HedgehogFabric.objects.get(pk=fabric_id)
    counts = R.counts_of((fabric.sync_summary or {}).items())
    _drift(fabric, counts, trigger=TriggerChoices.DRIFT, user=user)
