"""What must hold after any fault, once its documented time is over (the chaos tests' checks).

- nothing stuck: no fabric testing or syncing, no job of the plugin running, pending, or scheduled
  further in the past than a late scheduler is allowed (OVERDUE_AFTER);
- nothing half-written: every fabric's history is an unbroken chain per state field that ends at
  the fabric's state, and its counts (sync_summary) are those of its resources;
- what NetBox holds is what the cluster holds (after a sync, or through the watch).
"""

import time
from collections import defaultdict
from datetime import timedelta

from core.choices import JobStatusChoices
from core.models import Job
from django.utils import timezone

from netbox_hedgehog.jobs import OVERDUE_AFTER
from netbox_hedgehog.models import HedgehogFabric, HedgehogResource, StateTransition
from netbox_hedgehog.services import rollup
from netbox_hedgehog.state import kinds as K
from netbox_hedgehog.state import machine as m


def stuck() -> list[str]:
    """What is left mid-way: fabrics testing or syncing, jobs running, pending, or scheduled in the
    past (a few seconds of slack for a scheduler's poll)."""
    found = [
        f"{f.name}: {field} {getattr(f, field)}"
        for f in HedgehogFabric.objects.all()
        for field, value in ((m.CONNECTION, m.TESTING), (m.SYNC, m.SYNCING))
        if getattr(f, field) == value
    ]
    # a scheduled run whose scheduler is late is queued once OVERDUE_AFTER has passed (jobs.py)
    late = timezone.now() - OVERDUE_AFTER - timedelta(seconds=10)
    plugin_jobs = Job.objects.filter(name__startswith="Hedgehog")
    for job in plugin_jobs.filter(
        status__in=(JobStatusChoices.STATUS_RUNNING, JobStatusChoices.STATUS_PENDING)
    ) | plugin_jobs.filter(status=JobStatusChoices.STATUS_SCHEDULED, scheduled__lt=late):
        found.append(f"job #{job.pk} {job.name}: {job.status} (scheduled {job.scheduled})")
    return found


def broken_chains(fabric) -> list[str]:
    """Where the fabric's history does not chain: a row that does not start where the one before it
    ended, or a last row that does not end at the fabric's state."""
    fabric.refresh_from_db()
    by_field = defaultdict(list)
    for row in StateTransition.objects.filter(fabric=fabric).order_by("time", "pk"):
        by_field[row.field].append(row)
    broken = []
    for field, chain in by_field.items():
        for before, after in zip(chain, chain[1:], strict=False):
            if before.new != after.previous:
                broken.append(f"{field}: row {after.pk} starts at {after.previous}, not {before.new}")
        if chain[-1].new != getattr(fabric, field):
            broken.append(f"{field}: ends at {chain[-1].new}, the fabric is {getattr(fabric, field)}")
    return broken


def wrong_counts(fabric) -> list[str]:
    """Whether the fabric's counts (sync_summary) are those of its resources."""
    fabric.refresh_from_db()
    counted = rollup.summary(fabric)
    if fabric.sync_summary and fabric.sync_summary != counted:
        return [f"sync_summary {fabric.sync_summary}, its resources count {counted}"]
    return []


def cluster_holds(cluster) -> dict:
    """(kind, name) -> resourceVersion of every Hedgehog object the cluster holds."""
    held = {}
    for kind in K.ALL:
        for obj in cluster.objects(kind.group, kind.version, kind.plural):
            held[(kind.kind, obj["metadata"]["name"])] = obj["metadata"]["resourceVersion"]
    return held


def netbox_holds(fabric) -> dict:
    """(kind, name) -> resourceVersion of every resource NetBox has of the fabric that the cluster
    reported (a resource only desired in NetBox has none)."""
    return {
        (kind, name): version
        for kind, name, version in HedgehogResource.objects.filter(fabric=fabric)
        .exclude(resource_version="")
        .values_list("kind", "name", "resource_version")
    }


def differences(fabric, cluster) -> list[str]:
    """What NetBox holds of the fabric and the cluster does not, or holds at another version."""
    have, held = netbox_holds(fabric), cluster_holds(cluster)
    out = [
        f"{k}/{n}: NetBox {have.get((k, n))}, cluster {held.get((k, n))}"
        for k, n in sorted(set(have) | set(held))
        if have.get((k, n)) != held.get((k, n))
    ]
    return out


def unsound(fabric, cluster=None) -> list[str]:
    """Every check above, as one list of what is wrong (empty: sound)."""
    problems = stuck() + broken_chains(fabric) + wrong_counts(fabric)
    if cluster is not None:
        problems += differences(fabric, cluster)
    return problems


# A job row left running by a periodic job that died with PostgreSQL or its worker is marked lost by
# the next plugin job or watch scan (the maintenance windows job runs every minute): docs/operations.md.
SOUND_WITHIN = 75


def sound_within(seconds: float, fabric, cluster=None):
    """Wait until `unsound` finds nothing, at most `seconds`; else fail, saying what it found."""
    deadline = time.monotonic() + seconds
    while problems := unsound(fabric, cluster):
        assert time.monotonic() < deadline, f"still unsound after {seconds} s: {problems}"
        time.sleep(0.2)
