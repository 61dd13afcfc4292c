"""A person's whole first visit, through the pages only: log in, add a fabric pointing at the
cluster, test its connection, activate it, sync it, find its resources, read its history."""

import re

from playwright.sync_api import expect

from netbox_hedgehog.models import HedgehogResource
from tests.support.browser import log_in, make_user, state_badge
from tests.support.worker import run_jobs


def test_a_fabric_added_through_the_form_is_tested_activated_synced_and_its_history_read(page, cluster):
    make_user("alice", superuser=True)
    log_in(page, "alice")

    page.goto("/plugins/hedgehog/fabrics/add/")
    page.locator("#id_name").fill("dc-browser")
    page.locator("#id_kubernetes_server").fill(cluster.url)
    page.locator("#id_kubernetes_token").fill(cluster.token)
    page.locator("#id_kubernetes_ca_cert").fill(cluster.ca_pem)
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("heading", name="dc-browser")).to_be_visible()
    # new connection settings asked for a test already: the button answers with that job
    expect(state_badge(page, "Connection")).to_have_text("Testing")
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text(re.compile(r"Connection test already queued or running: job"))).to_be_visible()
    assert run_jobs()
    page.reload()
    expect(state_badge(page, "Connection")).to_have_text("Connected")
    expect(state_badge(page, "Lifecycle")).to_have_text("Planned")

    page.get_by_placeholder(re.compile("Reason")).fill("cabled and ready")
    page.get_by_role("button", name="Active").click()
    expect(page.get_by_text("dc-browser is now Active.")).to_be_visible()
    expect(state_badge(page, "Lifecycle")).to_have_text("Active")

    page.get_by_role("button", name="Sync").click()
    expect(page.get_by_text(re.compile(r"Sync queued as job"))).to_be_visible()
    expect(state_badge(page, "Sync")).to_have_text("Syncing")
    assert run_jobs()
    page.reload()
    expect(state_badge(page, "Sync")).to_have_text("In sync")

    switch = cluster.objects("wiring.githedgehog.com", "v1beta1", "switches")[0]["metadata"]["name"]
    page.get_by_role("link", name="All resources").click()
    rows = page.get_by_role("row").filter(has=page.get_by_role("link", name=switch, exact=True))
    expect(rows.filter(has=page.get_by_role("cell", name="Switch", exact=True))).to_have_count(1)
    count = HedgehogResource.objects.filter(fabric__name="dc-browser").count()
    assert count > 10
    expect(page.get_by_text(re.compile(rf"Showing 1-\d+ of {count}\b"))).to_be_visible()

    page.go_back()
    history = page.locator(".card", has=page.get_by_role("heading", name="State history"))
    expect(history.get_by_role("cell", name="cabled and ready")).to_be_visible()
    expect(history.get_by_text("Showing 1-8 of 8")).to_be_visible()
    rows = history.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].slice(1, 7).map(c => c.innerText.trim()))"
    )
    assert rows == [
        ["Sync status", "Syncing", "In sync", "Sync", "Sync completed", "system"],
        ["Sync status", "Never synced", "Syncing", "Manual", "Manual sync", "alice"],
        ["Lifecycle status", "Planned", "Active", "Manual", "cabled and ready", "alice"],
        ["Connection status", "Testing", "Connected", "Connection test", rows[3][4], "system"],
        ["Connection status", "Unknown", "Testing", "Manual", "Connection settings changed", "alice"],
        ["Sync status", "—", "Never synced", "Created", "Fabric created", "alice"],
        ["Connection status", "—", "Unknown", "Created", "Fabric created", "alice"],
        ["Lifecycle status", "—", "Planned", "Created", "Fabric created", "alice"],
    ]
    assert "Hedgehog API served" in rows[3][4]
