"""What the plugin adds to NetBox's own pages: the result of a reconciliation (or a sync) on its job's
page, as a table instead of the raw JSON NetBox shows of any job's data."""

from netbox.plugins import PluginTemplateExtension

from .jobs import FabricSyncJob, ReconcileJob


class JobResult(PluginTemplateExtension):
    models = ["core.job"]

    def full_width_page(self):
        job = self.context["object"]
        data = job.data if isinstance(job.data, dict) else None
        if not data or job.name not in (ReconcileJob.Meta.name, FabricSyncJob.Meta.name):
            return ""
        return self.render("netbox_hedgehog/job_result.html", extra_context={"job": job, "result": data})


template_extensions = [JobResult]
