"""One size of the sync benchmark in a process of its own (bench/sync.py starts it): its peak
resident memory is the sync's, not the emulated cluster's (which stays in the parent) nor that of an
earlier size.

    python -m bench.sync_child URL CA_FILE TOKEN PAGE_SIZE

Prints one JSON line: the first sync and the unchanged resync (best of 3, each run given; seconds,
and each one's peak RSS), the RSS before them, then the floors (raw paginated LIST, best of 3; COPY
of the same rows). The peak
of each step is the process's high-water mark (VmHWM) reset before it (writing 5 to
/proc/self/clear_refs); where that reset is refused, the process's peak so far (ru_maxrss) is given
and said.
"""

import json
import resource
import sys
import time
from pathlib import Path

import django

RUNS = 3  # of the unchanged resync and of its floor, the best kept


def _status(field: str) -> int:
    """A /proc/self/status figure, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak(reset: bool) -> int:
    return _status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv):
    url, ca_file, token, page_size = argv[0], argv[1], argv[2], int(argv[3])
    django.setup()
    from django.db import connection

    from netbox_hedgehog.models import HedgehogFabric, HedgehogResource
    from netbox_hedgehog.services.state import transition
    from netbox_hedgehog.services.sync import run_sync

    from .sync import _raw_insert_of, _raw_list

    name = "bench-sync-scale"
    HedgehogFabric.objects.filter(name__in=(name, name + "-floor")).delete()
    # the rows an earlier size deleted, vacuumed now: otherwise autovacuum may reclaim them in the
    # middle of this size's sync or floor, and whichever it meets pays for it
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {HedgehogResource._meta.db_table}")
    fabric = HedgehogFabric(name=name, kubernetes_server=url, kubernetes_ca_cert=Path(ca_file).read_text())
    fabric.set_secret("kubernetes_token", token)
    fabric.save()
    for to in ("testing", "connected"):
        transition(fabric, "connection_status", to, trigger="connection_test")
    transition(fabric, "status", "active")
    mb = 2**20
    out = {}
    try:
        # warm up: the emulator encodes each object once (its cache), the client connects
        _raw_list(fabric, page_size)
        out["rss_before_mb"] = round(_status("VmRSS") / mb, 1)
        reset = _reset_peak()
        start = time.perf_counter()
        first = run_sync(fabric)
        out["first_sync_s"] = round(time.perf_counter() - start, 3)
        out["first_sync_peak_rss_mb"] = round(_peak(reset) / mb, 1)
        out["first_sync_written"] = first["written"]

        # the unchanged resync, best of RUNS as its floor is (the machine is shared and noisy); the
        # peak is that of all of them
        reset = _reset_peak()
        resyncs = []
        for _ in range(RUNS):
            start = time.perf_counter()
            again = run_sync(fabric)
            resyncs.append(round(time.perf_counter() - start, 3))
        out["resync_s"] = min(resyncs)
        out["resync_runs_s"] = resyncs
        out["resync_peak_rss_mb"] = round(_peak(reset) / mb, 1)
        out["resync_written"] = again["written"]
        out["peak"] = "VmHWM reset before each step" if reset else "ru_maxrss (the process's peak so far)"

        # the floors last: the objects they keep would weigh on the sync's memory
        lists, items = [], None
        for _ in range(RUNS):
            start = time.perf_counter()
            count, _pages, kept = _raw_list(fabric, page_size, keep=items is None)
            lists.append(time.perf_counter() - start)
            items = items or kept
        out["objects"] = count
        out["floor_list_s"] = round(min(lists), 3)
        scratch = HedgehogFabric.objects.create(name=name + "-floor")
        try:
            out["floor_insert_s"] = round(_raw_insert_of(items, scratch), 3)
        finally:
            scratch.delete()
    finally:
        HedgehogResource.objects.filter(fabric=fabric)._raw_delete(connection.alias)
        fabric.delete()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
