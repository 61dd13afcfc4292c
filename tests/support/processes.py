"""Real NetBox processes for the chaos tests: `netbox rqworker` and `netbox hedgehog_watch`, started
as an operator starts them, each in its own process group (a SIGKILL takes the worker and its work
horse at once, as the OOM killer or a lost container does).

They read the same configuration as the tests (the environment of `source .dev/env`), pointed at the
session's own PostgreSQL (HEDGEHOG_PG_PORT, HEDGEHOG_DB_NAME) and given the tests' plugin settings
(HEDGEHOG_PLUGIN_SETTINGS, JSON): see scripts/netbox_configuration.py.in.
"""

import contextlib
import itertools
import json
import os
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import django_rq
from core.choices import JobStatusChoices
from core.models import Job
from django.db import connection
from rq.worker import Worker

_names = itertools.count(1)

# The Redis database of the chaos tests' queues (the caching one is the next); make fuzz uses 4 and 5.
CHAOS_REDIS_DB = 6


def netbox_env(**plugin_settings) -> dict:
    db = connection.settings_dict
    return {
        **os.environ,
        "HEDGEHOG_PG_PORT": str(db["PORT"]),
        "HEDGEHOG_DB_NAME": db["NAME"],
        "HEDGEHOG_PLUGIN_SETTINGS": json.dumps(plugin_settings),
        "HEDGEHOG_REDIS_DB": str(CHAOS_REDIS_DB),
        "PYTHONUNBUFFERED": "1",
    }


def descendants(pid: int) -> list[int]:
    """The processes started by `pid`, by theirs, and so on (read from /proc)."""
    children = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # it ended meanwhile
        children[parent].append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children[todo.pop()]:
            found.append(child)
            todo.append(child)
    return found


class NetBoxProcess:
    """`netbox ARGS...` in its own session, its output in `log`."""

    def __init__(self, args, *, log_dir: Path, plugin_settings: dict, name: str):
        self.args, self.name = list(args), name
        self.log = log_dir / f"{name}.log"
        self.plugin_settings = plugin_settings
        self.process = None

    def start(self):
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                ["netbox", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=netbox_env(**self.plugin_settings),
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """SIGKILL to the process and every process it started (RQ's work horse runs in a process
        group of its own): no handler runs, nothing is cleaned up, as when the machine dies."""
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout=10):
        """SIGTERM (a worker finishes its job first: RQ's warm shutdown), then SIGKILL."""
        if not self.alive:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class RQWorker(NetBoxProcess):
    """`netbox rqworker high default low --name NAME`: at its start it schedules the system jobs
    (NetBox's and the plugin's periodic jobs), then runs jobs with RQ's scheduler."""

    def __init__(self, *, log_dir, plugin_settings):
        name = f"chaos-worker-{os.getpid()}-{next(_names)}"
        super().__init__(
            ["rqworker", "high", "default", "low", "--name", name],
            log_dir=log_dir,
            plugin_settings=plugin_settings,
            name=name,
        )

    def start(self, timeout=60):
        """Start it and wait until it is registered in Redis and has run the jobs queued when it
        started (the first health round tests every connected fabric: a fault a test injects next
        would meet it too)."""
        super().start()
        key = Worker.redis_worker_namespace_prefix + self.name
        deadline = time.monotonic() + timeout
        while not django_rq.get_connection().exists(key):
            assert self.alive, f"the worker died at its start:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"the worker did not start:\n{self.output()[-3000:]}"
            time.sleep(0.1)
        try:
            wait_for("the jobs queued at the worker's start run", lambda: not pending_jobs(), timeout)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}: {[(j.pk, j.name, j.created) for j in pending_jobs()]}\n{self.output()[-3000:]}"
            ) from None
        return self


def pending_jobs():
    """The jobs waiting in the queue now."""
    return list(Job.objects.filter(status=JobStatusChoices.STATUS_PENDING))


class Watch(NetBoxProcess):
    """`netbox hedgehog_watch --rescan SECONDS`."""

    def __init__(self, *, log_dir, plugin_settings, rescan=1.0):
        super().__init__(
            ["hedgehog_watch", "--rescan", str(rescan)],
            log_dir=log_dir,
            plugin_settings=plugin_settings,
            name=f"chaos-watch-{next(_names)}",
        )


def wait_for(what: str, check, timeout: float, interval=0.1):
    """Poll `check()` until it returns something true (returned), at most `timeout` seconds (then the
    test fails, saying `what` and how long it waited)."""
    began = time.monotonic()
    while True:
        result = check()
        if result:
            return result
        elapsed = time.monotonic() - began
        assert elapsed < timeout, f"{what}: not within {timeout} s"
        time.sleep(interval)
