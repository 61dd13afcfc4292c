"""A real git server for the session (tests/support/git_server.py) with a repository of the demo
fabric's manifests, and repositories made as the forms and the REST API make them."""

import pytest

from tests.support.git_repos import DEMO_FILES
from tests.support.git_server import GitServer, make_repository


@pytest.fixture(scope="session")
def git_root(tmp_path_factory):
    return tmp_path_factory.mktemp("git")


@pytest.fixture(scope="session")
def git_server(git_root):
    make_repository(git_root, "fabrics", DEMO_FILES)
    with GitServer(git_root) as server:
        yield server


@pytest.fixture
def unused_port():
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
