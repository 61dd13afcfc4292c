"""Look after the schedule of the plugin's periodic jobs (health check, alert review, maintenance
windows): a run no worker will do any more (Redis restarted empty, a worker died running it) is
marked errored and scheduled again; one whose scheduler is late is queued now; a missing schedule is
created (what a worker does when it starts). Safe to run at any time, e.g. from cron.

The same check runs by itself when a worker starts, when any of the plugin's jobs runs, and every
scan of `netbox hedgehog_watch`; this command is for an operator who wants it now.
"""

from django.core.management.base import BaseCommand

from netbox_hedgehog.jobs import PeriodicJob


class Command(BaseCommand):
    help = "Re-queue the plugin's periodic jobs whose schedule was lost (e.g. Redis restarted empty)."

    def handle(self, *args, **options):
        for runner in PeriodicJob.__subclasses__():
            said = runner.keep_schedule(create=True)
            self.stdout.write(said or f"{runner.Meta.name}: scheduled, nothing to do")
