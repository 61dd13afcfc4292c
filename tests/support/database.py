"""A database outage for the threads of a test (the watch's), without stopping the shared PostgreSQL."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def unreachable_database():
    """Make the test database unreachable for every connection but the test's own, until the end.

    New connections are refused (CONNECTION LIMIT 0 applies to the non-superuser role the tests use:
    "too many connections for database") and every other open connection is terminated (the next
    query on it fails: "terminating connection due to administrator command"). The test's own
    connection stays open; it lifts the limit again on leaving, also when the test fails.
    """
    qn = connection.ops.quote_name
    name = qn(connection.settings_dict["NAME"])
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER DATABASE {name} CONNECTION LIMIT 0")
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER DATABASE {name} CONNECTION LIMIT -1")
