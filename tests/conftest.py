"""The fixtures every test may use: one emulated Kubernetes API server for the whole session, short
client timeouts, and fabrics pointing at it. The browser tests (tests/browser/) are marked
`browser` and run last. The chaos tests (tests/chaos/) are marked `chaos` and run only in a session
of their own (`make chaos`): their database is a PostgreSQL they stop and start (tests/chaos/conftest.py).

The cluster is a real HTTPS server on 127.0.0.1 (hedgehog_kube_emulator) with bearer-token auth,
seeded with the demo fabric before each test; the plugin talks to it with the official kubernetes
client, unpatched. Tests of the emulator itself (tests/emulator/) start their own.
"""

from pathlib import Path

import pytest

from hedgehog_kube_emulator import EmulatedCluster, demo_fabric_yaml
from tests.support.fabrics import CONNECT_TIMEOUT, REQUEST_TIMEOUT, TOKEN, connected_fabric, make_fabric
from tests.support.settings import plugin_settings

BROWSER_TESTS = Path(__file__).parent / "browser"
CHAOS_TESTS = Path(__file__).parent / "chaos"


def pytest_configure(config):
    # the browser tests' screenshots (addopts' --output) go under the checkout, wherever pytest runs
    output = getattr(config.option, "output", None)
    if output and not Path(output).is_absolute():
        config.option.output = str(config.rootpath / output)


def pytest_itemcollected(item):
    """Every test of tests/browser/ is marked `browser`, every test of tests/chaos/ `chaos` (before
    `-m` selects)."""
    if BROWSER_TESTS in item.path.parents:
        item.add_marker(pytest.mark.browser)
    if CHAOS_TESTS in item.path.parents:
        item.add_marker(pytest.mark.chaos)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """The chaos tests run only in a session without other tests (they point the session's database
    at a PostgreSQL of their own): beside others they are deselected. The browser tests run after all
    the others: they start a browser and a live server, and they commit (a transactional database)."""
    chaos = [item for item in items if item.get_closest_marker("chaos") is not None]
    if chaos and len(chaos) < len(items):
        config.hook.pytest_deselected(items=chaos)
        items[:] = [item for item in items if item.get_closest_marker("chaos") is None]
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(autouse=True)
def short_timeouts():
    with plugin_settings(connect_timeout=CONNECT_TIMEOUT, request_timeout=REQUEST_TIMEOUT) as config:
        yield config


@pytest.fixture(scope="session")
def emulated_cluster():
    with EmulatedCluster(token=TOKEN) as cluster:
        yield cluster


@pytest.fixture
def cluster(emulated_cluster):
    """The session's cluster holding exactly the demo fabric, fault-free, with an empty request log."""
    emulated_cluster.reset()
    emulated_cluster.seed(demo_fabric_yaml())
    emulated_cluster.clear_faults()
    emulated_cluster.clear_requests()
    yield emulated_cluster
    assert emulated_cluster.errors == []
    emulated_cluster.reset()


@pytest.fixture
def fabric_for(cluster):
    """fabric_for(target=cluster, name=..., token=..., ca=..., **fields): a fabric reaching the cluster
    by its URL with its token and CA (each can be replaced), saved as the forms save it."""

    def build(target=None, name="dc1", **fields):
        target = target or cluster
        fields.setdefault("server", target.url)
        fields.setdefault("token", target.token)
        fields.setdefault("ca", target.ca_pem)
        return make_fabric(name, **fields)

    return build


@pytest.fixture
def fabric(cluster, db):
    """A fabric connected to the cluster (by a real connection test) and active."""
    return connected_fabric(cluster)
