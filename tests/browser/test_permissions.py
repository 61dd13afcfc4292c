"""What a person may not do is not offered: no button for it on the fabric page."""

import re

from core.models import ObjectType
from playwright.sync_api import expect
from users.models import ObjectPermission

from tests.support.browser import log_in, make_user
from tests.support.fabrics import connected_fabric, sync


def test_a_viewer_without_change_permissions_sees_no_action_buttons(page, cluster):
    fabric = sync(connected_fabric(cluster))
    viewer = make_user("viewer")
    permission = ObjectPermission.objects.create(name="view hedgehog", actions=["view"])
    permission.object_types.set(ObjectType.objects.filter(app_label="netbox_hedgehog"))
    permission.users.add(viewer)

    log_in(page, "viewer", then=fabric.get_absolute_url())
    expect(page.get_by_role("heading", name="dc1")).to_be_visible()
    # everything is shown...
    expect(page.get_by_text("bearer token stored (encrypted)")).to_be_visible()
    expect(page.get_by_role("link", name="All resources")).to_be_visible()
    expect(page.get_by_text("You do not have permission to change this fabric's lifecycle.")).to_be_visible()
    history = page.locator(".card", has=page.get_by_role("heading", name="State history"))
    expect(history.get_by_role("cell", name="Sync completed")).to_be_visible()
    # ...and nothing can be done
    main = page.locator("main, .page-body").first
    for name in ("Test connection", "Sync", "Maintenance", "Decommissioned", "Edit", "Delete"):
        expect(main.get_by_role("button", name=re.compile(rf"\b{name}\b"))).to_have_count(0)
    expect(main.get_by_role("link", name=re.compile(r"\b(Reconcile|Edit|Delete)\b"))).to_have_count(0)
    expect(page.locator(f"form[action^='/plugins/hedgehog/fabrics/{fabric.pk}/']")).to_have_count(0)
