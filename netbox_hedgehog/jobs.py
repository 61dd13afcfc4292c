"""Background jobs, one JobRunner per action (NetBox's JobRunner; see netbox/jobs.py)."""

from core.exceptions import JobFailed
from netbox.jobs import JobRunner, system_job

from . import connection, settings
from .choices import TriggerChoices
from .kube.errors import KubeFailure


class ConnectionTestJob(JobRunner):
    """Test one fabric's connection: testing, then connected or failed (with a retry planned)."""

    class Meta:
        name = "Hedgehog connection test"

    def run(self, *args, trigger=TriggerChoices.CONNECTION_TEST, **kwargs):
        fabric = self.job.object
        if fabric is None:
            raise JobFailed("The fabric no longer exists.")
        log = self.logger.info
        if trigger == TriggerChoices.RETRY and fabric.status not in connection.TESTED_WHEN:
            log(f"Retry skipped: the fabric is {fabric.status}")
            return
        connection.begin(fabric, trigger=trigger, job=self.job)
        outcome = connection.check(fabric, log)
        retry_at = connection.finish(fabric, outcome, trigger=trigger, job=self.job, log=log)
        self.job.data = {"connection_status": fabric.connection_status, "cluster": fabric.cluster_info}
        if isinstance(outcome, KubeFailure):
            self.job.data["error"] = {"code": outcome.code, "message": outcome.message}
            if retry_at:
                connection.schedule_retry(fabric, retry_at)
            raise JobFailed(outcome.message)


@system_job(interval=settings.get("health_check_interval"))
class FabricHealthCheckJob(JobRunner):
    """Every health_check_interval minutes: reap stale tests, test connected fabrics, retry failed ones."""

    class Meta:
        name = "Hedgehog fabric health check"

    def run(self, *args, **kwargs):
        summary = connection.health_check_round(job=self.job, log=self.logger.info)
        self.job.data = summary
