"""netbox hedgehog_watch: the live watch of every active fabric's cluster (see docs/watch.md)."""

import logging
import signal
import sys
import threading

from django.core.management.base import BaseCommand, CommandError

from netbox_hedgehog.watch import Options, Watcher, log

LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}


class Command(BaseCommand):
    # A long-running process: it starts in seconds instead of running NetBox's system checks (the
    # web server and `netbox check` run them).
    requires_system_checks = []
    help = (
        "Watch the Hedgehog resources of every planned or active fabric that is connected and was "
        "synced, and record cluster changes and drift as they happen. Runs until SIGTERM or SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rescan",
            type=float,
            default=30.0,
            help="seconds between re-reads of the fabric list (default 30)",
        )
        parser.add_argument(
            "--watch-timeout",
            type=int,
            default=300,
            help="seconds after which the server ends each watch; it is resumed at once (default 300)",
        )
        parser.add_argument(
            "--fabric",
            action="append",
            default=[],
            metavar="NAME",
            help="watch only this fabric (repeatable)",
        )
        parser.add_argument(
            "--once",
            type=float,
            metavar="SECONDS",
            help="exit once nothing happened for SECONDS (for tests and scripts)",
        )

    def handle(self, *args, **options):
        if options["rescan"] <= 0 or options["watch_timeout"] <= 0:
            raise CommandError("--rescan and --watch-timeout must be positive")
        level, handler = log.level, self._logging(options["verbosity"])
        watcher = Watcher(
            Options(rescan=options["rescan"], watch_timeout=options["watch_timeout"]),
            fabric_names=options["fabric"],
        )
        previous = {}
        if threading.current_thread() is threading.main_thread():

            def on_signal(signum, frame):
                watcher.request_stop(f"{signal.Signals(signum).name} received")  # logged by run(), not here

            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, on_signal)
        try:
            watcher.run(idle=options["once"])
        finally:
            for signum, old in previous.items():
                signal.signal(signum, old)
            log.setLevel(level)
            if handler is not None:
                log.removeHandler(handler)

    def _logging(self, verbosity):
        """Log to stderr unless NetBox's LOGGING already sends this logger somewhere."""
        log.setLevel(LEVELS.get(verbosity, logging.INFO))
        if log.hasHandlers():
            return None
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s"))
        log.addHandler(handler)
        return handler
