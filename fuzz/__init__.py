"""make fuzz: schemathesis against the plugin's REST API (/api/plugins/hedgehog/), on the real stack.

What a run does (python -m fuzz, started by scripts/dev.sh cmd_fuzz; ~3 minutes with the defaults):

1. scripts/dev.sh gives it a new PostgreSQL database, `fuzz`, copied from a template (NetBox's cached
   core dump plus the plugin's migrations), and Redis databases 4 and 5, so nothing touches the
   development instance or the test database.
2. seed.py creates the fixtures through the plugin's own code: a superuser `fuzz` with a NetBox v2 API
   token, five pools of eight fabrics in every kind of state (planned; connected and in sync; out of
   sync; connected by a kubeconfig; in maintenance; failed; decommissioned; sync error), their
   resources (read from an emulated Kubernetes cluster, hedgehog_kube_emulator, served by this
   process on 127.0.0.1) and the history their transitions wrote.
3. server.py serves NetBox on 127.0.0.1:FUZZ_PORT and records every exception a request raises, with
   its traceback, in .dev/fuzz/server-exceptions.jsonl.
4. The OpenAPI schema comes from the app's /api/schema/ (drf-spectacular), cached per NetBox version
   and plugin code; only the plugin's paths are kept, and the lookups NetBox adds to every filter
   once per parameter type (see __main__._plugin_schema).
5. corpus.py sends ~20 hostile requests the generator does not write by itself (malformed
   kubeconfigs and server URLs, JSON nested 5,000 deep, NUL characters); then schemathesis runs its
   coverage, fuzzing and stateful phases (schemathesis.toml, quick.toml) with a fixed seed, one
   request at a time.
6. report.py groups every exception by root cause, minimizes an input for each by replaying it through
   Django's test client, lists the undocumented status codes of the plugin's actions, and prints the
   summary (also in .dev/fuzz/summary.txt). The exit code is non-zero when anything failed.

Checks. `not_a_server_error` everywhere; `status_code_conformance` on the plugin's own actions
(transition, test-connection, sync, reconcile), whose answers the plugin documents itself with
@extend_schema. On NetBox's generic routes it would flag the codes drf-spectacular never documents
(404 on every detail route, 400 on PUT/PATCH/DELETE): NetBox's noise, not the plugin's. Response-schema
conformance is off for the same reason: it validates NetBox's generic serializers and spectacular's
rendering of them (nullable fields, nested brief objects) far more than anything the plugin writes.

Why a server in its own process rather than the WSGI app called in-process: schemathesis 4's command
line (all its phases, the time and example budgets, the seed, the reports, a non-zero exit on failure,
a curl line per failure) talks HTTP only; in-process WSGI is offered only through its Python and
pytest API, where each operation becomes a test and the reporting is ours to write. A separate process
also keeps Hypothesis' threads and Django's per-thread database connections apart, is the shape of a
deployment (NetBox behind an HTTP server, real PostgreSQL and Redis; nothing is mocked), and its curl
commands can be replayed as printed (`make fuzz ARGS=--serve` serves the last run's database again).
Tracebacks, which NetBox does not log for API requests, are taken from Django's
got_request_exception signal inside that process (server.py).

Determinism: a fresh database and the same fixtures (ids from 1001) every run, a fixed seed
(FUZZ_SEED), no example database or schemathesis cache, one worker, a server that answers one request
at a time, and no RQ worker while fuzzing (jobs stay queued; a job would reach whatever cluster URL the
fuzzer wrote, which must not leave this machine). Two runs with the same seed send the same requests.

Settings (environment, or `make fuzz ARGS="..."`): FUZZ_MAX_EXAMPLES (20: cases per operation in the
fuzzing and stateful phases), FUZZ_SEED (1), FUZZ_SECONDS (unset: a time budget instead, spent
entirely, fuzzing repeating until it ends), FUZZ_TIMEOUT (600, 2400 with FUZZ_FULL: schemathesis is
interrupted after it), FUZZ_FULL=1 (the coverage phase everywhere and every filter lookup, ~12
minutes), FUZZ_PORT; arguments after `--` go to `st run`.
"""
