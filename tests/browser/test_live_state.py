"""The fabric page follows the cluster without a reload: its state panel asks for itself again
(htmx, views.HedgehogFabricStateView: every 2 s while a job works, every 5 s otherwise) and, when
what the page shows changed, has the page reload itself (HX-Refresh). The test never reloads."""

import re
import time

from playwright.sync_api import expect

from netbox_hedgehog.watch import Watcher
from tests.support.browser import log_in, make_user, state_badge
from tests.support.fabrics import connected_fabric
from tests.support.worker import run_jobs

# the watch as tests/sync/test_watch.py runs it: quick rescans and reconnects
FAST = {"rescan": 0.5, "watch_timeout": 30, "backoff_base": 0.1, "backoff_max": 1.0, "stop_timeout": 5}


def wait_for(predicate, timeout=20.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        time.sleep(0.1)
    return value


def test_the_state_panel_follows_jobs_and_cluster_changes_without_a_reload(page, cluster):
    fabric = connected_fabric(cluster)
    make_user("watcher", superuser=True)
    log_in(page, "watcher", then=fabric.get_absolute_url())
    refreshes = []
    page.on(
        "response",
        lambda r: refreshes.append(r.url) if "/state/" in r.url and r.headers.get("hx-refresh") else None,
    )
    running = page.locator("#fabric-state tr").filter(has_text="Running now")

    # a connection test: testing while the job waits for a worker, connected once it ran
    page.get_by_role("button", name="Test connection").click()
    expect(state_badge(page, "Connection")).to_have_text("Testing")
    expect(running).to_contain_text("Hedgehog connection test")
    assert run_jobs()
    expect(state_badge(page, "Connection")).to_have_text("Connected")
    expect(running).to_have_count(0)

    # a sync: syncing, then in sync, and the resources panel counts what it found
    page.get_by_role("button", name="Sync").click()
    expect(state_badge(page, "Sync")).to_have_text("Syncing")
    assert run_jobs()
    expect(state_badge(page, "Sync")).to_have_text("In sync")
    expect(running).to_have_count(0)
    assert len(refreshes) >= 2  # the panel's answers reloaded the page, not the test

    # a change made in the cluster: the live watch records the drift, the page shows it
    drifted = page.locator(".card", has=page.get_by_role("heading", name="Resources")).get_by_role(
        "row", name=re.compile(r"^Drifted")
    )
    expect(drifted).to_have_text(re.compile(r"Drifted\s+0"))
    with Watcher(fabric_names=[fabric.name], **FAST) as watch:
        wait_for(lambda: (fw := watch.watches.get(fabric.pk)) is not None and fw.streams, what="the watch")
        wait_for(lambda: cluster.open_watches >= len(watch.watches[fabric.pk].streams), what="every stream")
        cluster.patch_object(
            "wiring.githedgehog.com", "v1beta1", "switches", "spine-01", {"spec": {"description": "by hand"}}
        )
        expect(state_badge(page, "Sync")).to_have_text("Out of sync")
        expect(drifted).to_have_text(re.compile(r"Drifted\s+1"))
