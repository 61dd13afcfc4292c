"""The plugin's custom scripts, installed the NetBox 4.7 way (a module in SCRIPTS_ROOT, made by
`netbox hedgehog_install_scripts`) and run as NetBox runs scripts (ScriptJob), their log readable."""

import uuid

import pytest
from django.core.management import call_command
from django.test import RequestFactory, override_settings
from extras.jobs import ScriptJob
from extras.models import Script
from utilities.request import copy_safe_request

from netbox_hedgehog.jobs import ConnectionTestJob, FabricSyncJob
from netbox_hedgehog.models import HedgehogFabric, ReconciliationAlert
from netbox_hedgehog.services.state import transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def scripts(tmp_path):
    with override_settings(SCRIPTS_ROOT=str(tmp_path)):
        call_command("hedgehog_install_scripts", stdout=open("/dev/null", "w"))
        call_command("hedgehog_install_scripts", stdout=open("/dev/null", "w"))  # safe to run again
        yield {
            script.name: script
            for script in Script.objects.filter(module__file_path="netbox_hedgehog_scripts.py")
        }


def run(script, user, **values):
    """Run the script as NetBox's script view does: its form cleans the values, a ScriptJob runs it."""
    form = script.python_class().as_form(values)
    assert form.is_valid(), form.errors
    data = {name: value for name, value in form.cleaned_data.items() if not name.startswith("_")}
    request = RequestFactory().post("/")
    request.user, request.id = user, uuid.uuid4()
    job = ScriptJob.enqueue(
        instance=script, user=user, data=data, request=copy_safe_request(request), commit=True, immediate=True
    )
    job.refresh_from_db()
    return job


def log_of(job):
    return [(entry["status"], entry["message"]) for entry in job.data["log"]]


def active(name, connected=True):
    fabric = HedgehogFabric.objects.create(name=name)
    if connected:
        transition(fabric, "connection_status", "testing")
        transition(fabric, "connection_status", "connected")
    transition(fabric, "status", "active") if connected else None
    return fabric


def test_the_three_scripts_are_installed(scripts):
    assert set(scripts) == {"AuditFabricStates", "BulkMaintenance", "RetryFailedFabrics"}


def test_bulk_maintenance_moves_the_selected_fabrics_with_the_reason_and_says_what_it_could_not(
    scripts, admin_user
):
    one, two = active("one"), active("two")
    planned = HedgehogFabric.objects.create(name="planned")
    job = run(
        scripts["BulkMaintenance"],
        admin_user,
        fabrics=[one.pk, two.pk, planned.pk],
        direction="enter",
        reason="firmware",
    )
    assert job.status == "completed", job.data
    assert {f.name: f.status for f in HedgehogFabric.objects.all()} == {
        "one": "maintenance",
        "two": "maintenance",
        "planned": "planned",
    }
    row = one.state_transitions.filter(field="status").latest("pk")
    assert (row.new, row.reason, row.user) == ("maintenance", "firmware", admin_user)
    log = log_of(job)
    assert ("failure", "planned: Lifecycle cannot go from Planned to Maintenance. Allowed: Active.") in log
    assert job.data["output"] == "2 of 3 fabric(s) now maintenance."


def test_audit_opens_alerts_for_fabrics_in_trouble_and_logs_every_fabric(scripts, admin_user):
    failing = active("failing")
    transition(failing, "connection_status", "failed", reason="gone", details={"connection_attempts": 1})
    ReconciliationAlert.objects.all().delete()  # as if opened before the plugin had alerts
    HedgehogFabric.objects.filter(pk=failing.pk).update(open_alerts={})
    active("healthy")
    job = run(scripts["AuditFabricStates"], admin_user, force=False)
    assert job.status == "completed", job.data
    assert ReconciliationAlert.objects.filter(
        fabric=failing, type="connection_failure", status="active"
    ).exists()
    log = dict((message.split(":")[0], status) for status, message in log_of(job) if ":" in message)
    assert (log["failing"], log["healthy"]) == ("warning", "success")


def test_retry_failed_fabrics_queues_tests_and_syncs(scripts, admin_user):
    failing = active("failing")
    transition(failing, "connection_status", "failed", reason="gone", details={"connection_attempts": 1})
    erring = active("erring")
    transition(erring, "sync_status", "syncing")
    transition(erring, "sync_status", "error", reason="[forbidden] no")
    job = run(scripts["RetryFailedFabrics"], admin_user)
    assert job.status == "completed", job.data
    assert ConnectionTestJob.get_jobs(failing).count() == 1 and FabricSyncJob.get_jobs(erring).count() == 1
    assert job.data["output"] == "2 job(s) queued."
