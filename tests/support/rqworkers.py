"""Real RQ workers: `netbox rqworker` processes (NetBox's manage.py rqworker, what an instance runs),
started on the database and the Redis queues this process uses, with plugin settings of the
caller's (the tests' short timeouts, a small health round batch).

Each worker reads a configuration module written for it into a temporary directory: NetBox's
configuration of this checkout (NETBOX_CONFIGURATION), then the database name, the tasks Redis and
the plugin settings given. The system jobs a starting worker schedules (NetBox's rqworker runs
every system job at once when none is scheduled) are scheduled an hour ahead first and removed at
the end, so that no round runs that the caller did not ask for. Used by tests/connection and by
bench/fleet_workers.py.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import django_rq
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rq.worker import Worker

from netbox_hedgehog.jobs import PeriodicJob

MODULE = "hedgehog_rqworker_configuration"
# NetBox's command line, beside this Python (the venv's bin/)
NETBOX = str(Path(sys.executable).with_name("netbox"))


def _configuration(directory: Path, plugin_settings: dict) -> None:
    redis = django_rq.get_connection().connection_pool.connection_kwargs
    values = {
        "database": connection.settings_dict["NAME"],
        "redis": {
            "HOST": redis.get("host", "127.0.0.1"),
            "PORT": redis.get("port"),
            "DATABASE": redis.get("db", 0),
        },
        "plugin": plugin_settings,
    }
    base = os.environ["NETBOX_CONFIGURATION"]
    (directory / f"{MODULE}.py").write_text(
        f"from {base} import *  # noqa: F403\n"
        "import json\n"
        f"_values = json.loads({json.dumps(json.dumps(values))})\n"
        'DATABASES["default"]["NAME"] = _values["database"]  # noqa: F405\n'
        'REDIS["tasks"].update(_values["redis"])  # noqa: F405\n'
        'PLUGINS_CONFIG["netbox_hedgehog"].update(_values["plugin"])  # noqa: F405\n'
    )


def _schedule_system_jobs_later() -> list:
    later = timezone.now() + timedelta(hours=1)
    return [
        runner.enqueue_once(schedule_at=later, interval=runner.interval())
        for runner in PeriodicJob.__subclasses__()
    ]


def registered(names) -> set[str]:
    """Which of the named workers Redis knows (registered and beating)."""
    return {w.name for w in Worker.all(connection=django_rq.get_connection())} & set(names)


@contextmanager
def rq_workers(count: int, *, plugin_settings: dict | None = None, prefix: str = "hedgehog", ready_within=90):
    """Start `count` `netbox rqworker` processes; yield their names once all are registered; stop
    them (SIGTERM: RQ's warm shutdown; SIGKILL after 20 s) at the end. Their output is kept in a
    temporary directory, shown when one fails to start."""
    scheduled = _schedule_system_jobs_later()
    with tempfile.TemporaryDirectory(prefix="hedgehog-rqworkers-") as tmp:
        directory = Path(tmp)
        _configuration(directory, plugin_settings or {})
        env = {
            **os.environ,
            "NETBOX_CONFIGURATION": MODULE,
            "PYTHONPATH": os.pathsep.join(filter(None, (tmp, os.environ.get("PYTHONPATH")))),
        }
        names = [f"{prefix}-{os.getpid()}-{i}" for i in range(count)]
        processes = []
        try:
            for name in names:
                log = (directory / f"{name}.log").open("wb")
                processes.append(
                    subprocess.Popen(
                        [NETBOX, "rqworker", "--name", name],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            deadline = time.monotonic() + ready_within
            while registered(names) != set(names):
                dead = [p for p in processes if p.poll() is not None]
                if dead or time.monotonic() > deadline:
                    logs = "\n".join((directory / f"{n}.log").read_text()[-2000:] for n in names)
                    raise RuntimeError(f"the RQ workers did not start:\n{logs}")
                time.sleep(0.2)
            yield names
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            # a worker killed (or one that died) stays registered until its key expires
            for worker in Worker.all(connection=django_rq.get_connection()):
                if worker.name in names:
                    worker.register_death()
            for job in scheduled:
                job.delete()


def drained(names, limit=600) -> float:
    """Wait until every queue is empty and the named workers are idle (e.g. NetBox's search cache
    updates that a thousand saves queued); the seconds it took."""
    started = time.monotonic()
    queues = [django_rq.get_queue(name) for name in settings.RQ_QUEUES]
    while time.monotonic() - started < limit:
        workers = [w for w in Worker.all(connection=django_rq.get_connection()) if w.name in names]
        if all(q.count == 0 for q in queues) and all(w.get_state() == "idle" for w in workers):
            return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(f"the queues were not drained within {limit} s")
