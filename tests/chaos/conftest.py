"""The chaos tests' session (`make chaos`): real servers and processes stopped, killed and started.

Their database lives in a PostgreSQL of the session's own (tests/support/postgres.py), which a test
may stop and start: the shared one must never stop under the other tests. So the chaos tests run in
a session of their own; in a session with other tests they are deselected (tests/conftest.py). The
NetBox processes they start (tests/support/processes.py) use that database too, with the settings in
PLUGIN_SETTINGS.
"""

import django_rq
import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import setup_databases

from tests.support.fabrics import CONNECT_TIMEOUT
from tests.support.postgres import PrivatePostgres
from tests.support.processes import CHAOS_REDIS_DB, RQWorker, Watch
from tests.support.settings import plugin_settings, queues_in_database

# The settings of the tests and of the processes they start: the tests' short connect timeout, a
# request timeout long enough to kill a worker while it waits for a cluster that does not answer, and
# a short stale_test_after (a killed test is reaped at the next round after it; 300 s by default).
PLUGIN_SETTINGS = {
    "connect_timeout": CONNECT_TIMEOUT,
    "request_timeout": 5,
    "stale_test_after": 5,
}


@pytest.fixture(scope="session")
def postgres():
    server = PrivatePostgres().initdb()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker, postgres):
    """The test database: the shared one copied into the session's own PostgreSQL (already migrated;
    migrate then applies what is new, as --reuse-db does), and every connection pointed there."""
    db = settings.DATABASES["default"]
    postgres.copy_database(
        db["TEST"]["NAME"], host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"]
    )
    with django_db_blocker.unblock():
        connections.close_all()
        db["PORT"] = str(postgres.port)  # the same dict as the connection's settings
        setup_databases(verbosity=0, interactive=False, keepdb=True)
    yield
    with django_db_blocker.unblock():
        connections.close_all()


@pytest.fixture(scope="session", autouse=True)
def chaos_queues():
    """The session's queues in a Redis database of their own (the processes it starts get it too):
    a test session beside this one never takes or loses their jobs."""
    with queues_in_database(CHAOS_REDIS_DB):
        yield


@pytest.fixture(autouse=True)
def chaos_settings(chaos_queues):
    """The tests' settings, and their queues empty: jobs a test left queued or scheduled (a killed
    worker's) never run in the next."""
    django_rq.get_connection().flushdb()
    with plugin_settings(**PLUGIN_SETTINGS) as config:
        yield config


@pytest.fixture
def database(postgres):
    """The session's PostgreSQL, running again when the test ends (whatever the test did to it)."""
    yield postgres
    if not postgres.running:
        postgres.start()
    connections.close_all()


@pytest.fixture
def start_worker(tmp_path):
    """start_worker(): a new `netbox rqworker` on the test's queues and database, ready; every worker
    started is stopped when the test ends."""
    started = []

    def start():
        worker = RQWorker(log_dir=tmp_path, plugin_settings=PLUGIN_SETTINGS)
        started.append(worker)  # stopped at the end even when it fails to become ready
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
        print(f"--- {worker.name} ---\n{worker.output()[-6000:]}")  # shown when the test failed


@pytest.fixture
def start_watch(tmp_path):
    started = []

    def start(rescan=1.0):
        watch = Watch(log_dir=tmp_path, plugin_settings=PLUGIN_SETTINGS, rescan=rescan)
        started.append(watch)
        return watch.start()

    yield start
    for watch in started:
        watch.stop()
        print(f"--- {watch.name} ---\n{watch.output()[-6000:]}")
