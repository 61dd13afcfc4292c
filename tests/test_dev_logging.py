"""A server error of the development instance is logged with its traceback, without NETBOX_DEBUG.

`make up` runs NetBox with the development configuration (scripts/netbox_configuration.py.in, which
the tests run with too) and sends its stderr to .dev/log/netbox.log. Django alone logs a 500's
traceback only when DEBUG is on, and NetBox answers an exception in an API request itself, which
Django then logs without it; the configuration logs both, once, on stderr.
"""

import io
import logging
import sys
from contextlib import contextmanager
from unittest import mock

import pytest
from django.test import override_settings
from django.urls import reverse

from netbox_hedgehog.api.views import HedgehogFabricViewSet
from netbox_hedgehog.views import HedgehogFabricListView

pytestmark = pytest.mark.django_db


def configured_handlers(name):
    """The handlers a record of logger NAME reaches, pytest's own capture left out."""
    logger, found = logging.getLogger(name), []
    while logger:
        found += [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]
        logger = logger.parent if logger.propagate else None
    return found


@contextmanager
def written_by(handlers):
    """What the stream handlers among HANDLERS write while the block runs, as text."""
    out = io.StringIO()
    streams = [h for h in handlers if isinstance(h, logging.StreamHandler)]
    old = [h.setStream(out) for h in streams]
    try:
        yield out
    finally:
        for handler, stream in zip(streams, old, strict=True):
            if stream is not None:
                handler.setStream(stream)


def boom(*args, **kwargs):
    raise RuntimeError("boom from a view")


URLS = {
    "ui": (HedgehogFabricListView, "get", "plugins:netbox_hedgehog:hedgehogfabric_list"),
    "api": (HedgehogFabricViewSet, "list", "plugins-api:netbox_hedgehog-api:hedgehogfabric-list"),
}


def test_the_server_error_log_is_stderr():
    """stderr is what `make up` sends to .dev/log/netbox.log (and `make fuzz` to its server.log)."""
    handlers = [h for h in configured_handlers("django.request") if isinstance(h, logging.StreamHandler)]
    assert handlers, (
        "django.request reaches no stream handler: see LOGGING in scripts/netbox_configuration.py.in"
    )
    assert all(h.stream in (sys.stderr, sys.__stderr__) or h.stream.fileno() == 2 for h in handlers)


@pytest.mark.parametrize("debug", [False, True], ids=["default", "NETBOX_DEBUG=1"])
@pytest.mark.parametrize("where", URLS)
def test_a_server_error_is_logged_with_its_traceback(admin_client, where, debug):
    view, method, url_name = URLS[where]
    admin_client.raise_request_exception = False
    with override_settings(DEBUG=debug), mock.patch.object(view, method, boom):
        with written_by(configured_handlers("django.request")) as log:
            response = admin_client.get(reverse(url_name))
    assert response.status_code == 500
    text = log.getvalue()
    assert text.count("Traceback (most recent call last):") == 1, text
    assert "RuntimeError: boom from a view" in text
    assert f"in {boom.__name__}" in text  # the frame that raised
