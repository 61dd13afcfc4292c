"""Background jobs, one JobRunner per action (NetBox's JobRunner; see netbox/jobs.py)."""

from core.exceptions import JobFailed
from netbox.jobs import JobRunner, system_job

from . import connection, settings
from .choices import TriggerChoices
from .kube.errors import KubeFailure
from .state import InvalidTransition


class ConnectionTestJob(JobRunner):
    """Test one fabric's connection: testing, then connected or failed (with a retry planned)."""

    class Meta:
        name = "Hedgehog connection test"

    def run(self, *args, trigger=TriggerChoices.CONNECTION_TEST, **kwargs):
        fabric = self.job.object
        if fabric is None:
            raise JobFailed("The fabric no longer exists.")
        log = self.logger.info
        if trigger == TriggerChoices.RETRY and not connection.retry_due(fabric):
            log(
                f"Retry skipped: the fabric is {fabric.status}, its connection {fabric.connection_status}, "
                f"next attempt {fabric.next_connection_attempt or 'none'}"
            )
            return
        try:
            connection.begin(fabric, trigger=trigger, job=self.job)
        except InvalidTransition as exc:  # e.g. decommissioned since the test was queued
            log(f"Not tested: {exc.message}")
            raise JobFailed(exc.message) from None
        began = fabric.connection_status_changed
        outcome = connection.check(fabric, log)
        if connection.reaped_since(fabric, began):
            # The reaper failed the fabric as interrupted meanwhile (and another test may be running).
            result = outcome.code if isinstance(outcome, KubeFailure) else "connected"
            log(f"Result ({result}) discarded: the reaper declared this test interrupted while it ran")
            raise JobFailed("The test was declared interrupted while it ran; its result was discarded.")
        retry_at = connection.finish(fabric, outcome, trigger=trigger, job=self.job, log=log)
        self.job.data = {"connection_status": fabric.connection_status, "cluster": fabric.cluster_info}
        if isinstance(outcome, KubeFailure):
            self.job.data["error"] = {"code": outcome.code, "message": outcome.message}
            if retry_at:
                connection.schedule_retry(fabric, retry_at)
            raise JobFailed(outcome.message)


@system_job(interval=settings.get("health_check_interval"))
class FabricHealthCheckJob(JobRunner):
    """Every health_check_interval minutes: reap stale tests and syncs, test connected fabrics, retry
    failed ones, and keep the periodic syncs of fabrics with a sync interval scheduled."""

    class Meta:
        name = "Hedgehog fabric health check"

    def run(self, *args, **kwargs):
        from .sync.operations import reap_stale_syncs, schedule_periodic_syncs

        summary = connection.health_check_round(job=self.job, log=self.logger.info)
        summary["reaped_syncs"] = reap_stale_syncs(job=self.job, log=self.logger.info)
        summary["scheduled_syncs"] = schedule_periodic_syncs(log=self.logger.info)
        self.job.data = summary


class FabricSyncJob(JobRunner):
    """Read the fabric's cluster into NetBox (sync_actual_state) and roll the result up."""

    class Meta:
        name = "Hedgehog fabric sync"

    def run(self, *args, trigger=TriggerChoices.SYNC, **kwargs):
        from .sync.operations import run_sync

        fabric = self.job.object
        if fabric is None:
            raise JobFailed("The fabric no longer exists.")
        try:
            self.job.data = run_sync(fabric, job=self.job, log=self.logger.info, trigger=trigger)
        except KubeFailure as failure:
            self.job.data = {"error": {"code": failure.code, "message": failure.message}}
            raise JobFailed(failure.message) from None


class ReconcileJob(JobRunner):
    """Apply NetBox's desired state to the cluster, or adopt the cluster's (see sync/reconcile.py)."""

    class Meta:
        name = "Hedgehog fabric reconciliation"

    def run(self, *args, direction="apply", prune=False, **kwargs):
        from .sync.reconcile import reconcile

        fabric = self.job.object
        if fabric is None:
            raise JobFailed("The fabric no longer exists.")
        try:
            self.job.data = reconcile(
                fabric,
                direction,
                dry_run=False,
                prune=prune,
                user=self.job.user,
                job=self.job,
                log=self.logger.info,
            )
        except KubeFailure as failure:
            self.job.data = {"error": {"code": failure.code, "message": failure.message}}
            raise JobFailed(failure.message) from None
        if fabric.sync_status == "error":
            raise JobFailed(fabric.sync_error)
