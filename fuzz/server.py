"""The NetBox server a fuzz run talks to: `python -m fuzz.server HOST:PORT EXCEPTIONS.jsonl`.

NetBox's own WSGI application served by Django's development server (the server `netbox runserver`
runs, without its autoreloader and one request at a time), with one addition: every exception a
request raises is appended, with its traceback and the request that raised it, to EXCEPTIONS.jsonl.
NetBox answers an exception in an API request with a JSON 500 and logs no traceback; Django's
`got_request_exception` signal (which NetBox sends for error trackers such as Sentry) is where the
traceback still exists. Schemathesis names each request in an X-Schemathesis-TestCaseId header, so the
report can join a failure it saw with the exception behind it.
"""

import io
import json
import sys
import traceback
from datetime import UTC, datetime

BODY_LIMIT = 200_000  # bytes of a body kept with its exception (a replay needs all of it)


class KeepBody:
    """WSGI middleware: keep the raw request body (its head) where the exception recorder finds it."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > 0:
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["fuzz.body"] = body
        return self.app(environ, start_response)


def recorder(path):
    def record(sender, request=None, **kwargs):
        exc_type, exc, tb = sys.exc_info()
        if exc is None or request is None:
            return
        body = request.environ.get("fuzz.body", b"")
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "case_id": request.headers.get("X-Schemathesis-TestCaseId", ""),
            "method": request.method,
            "path": request.path,
            "query": request.META.get("QUERY_STRING", ""),
            "content_type": request.content_type,
            "body": body[:BODY_LIMIT].decode("utf-8", "replace"),
            "body_length": len(body),
            "exception": exc_type.__name__,
            "message": str(exc)[:500],
            "traceback": traceback.format_exception(exc_type, exc, tb),
        }
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")

    return record


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    address, exceptions = argv
    host, port = address.rsplit(":", 1)

    import django

    django.setup()
    from django.core.servers.basehttp import run
    from django.core.signals import got_request_exception
    from django.core.wsgi import get_wsgi_application

    got_request_exception.connect(recorder(exceptions), weak=False)
    app = KeepBody(get_wsgi_application())
    print(f"serving http://{host}:{port}/", file=sys.stderr, flush=True)
    run(host, int(port), app, threading=False)


if __name__ == "__main__":
    main()
