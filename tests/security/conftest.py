"""The security tests share the connection tests' emulated cluster and fixtures."""

from tests.connection.conftest import cluster, fabric_for, shared_cluster, short_timeouts  # noqa: F401
