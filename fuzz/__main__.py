"""make fuzz: seed a fresh database, start NetBox, run schemathesis on the plugin's API, report.

Run by scripts/dev.sh cmd_fuzz, which gives this process a new database (HEDGEHOG_DB_NAME=fuzz) and
Redis databases of its own (HEDGEHOG_REDIS_DB=4), so nothing here touches the development instance.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
PLUGIN_PATHS = "^/api/plugins/hedgehog/"


def _env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def _parser():
    parser = argparse.ArgumentParser(prog="make fuzz", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--max-examples",
        type=int,
        default=_env_int("FUZZ_MAX_EXAMPLES", 20),
        help="test cases per operation and phase (FUZZ_MAX_EXAMPLES; default 20)",
    )
    parser.add_argument(
        "--seconds",
        type=int,
        default=_env_int("FUZZ_SECONDS", 0),
        help="time budget of schemathesis instead: fuzzing repeats until it is spent (FUZZ_SECONDS)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=_env_int("FUZZ_TIMEOUT", 0),
        help="hard limit of the schemathesis run in seconds, then it is interrupted (FUZZ_TIMEOUT; "
        "default 600, with --full 2400)",
    )
    parser.add_argument("--seed", type=int, default=_env_int("FUZZ_SEED", 1), help="FUZZ_SEED; default 1")
    parser.add_argument(
        "--port", type=int, default=_env_int("FUZZ_PORT", 8090), help="NetBox's port (FUZZ_PORT)"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        default=bool(os.environ.get("FUZZ_FULL")),
        help="the coverage phase on every operation and every filter lookup (FUZZ_FULL=1; ~12 minutes)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / ".dev" / "fuzz", help="reports and logs")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="only serve the last run's database (its token in .dev/fuzz/api-token) to replay the curl commands",
    )
    parser.add_argument("st_args", nargs="*", help="more arguments for `st run` (after --)")
    return parser


def log(message):
    print(f"\033[1m==> {message}\033[0m", file=sys.stderr, flush=True)


def _flush_redis():
    """The run's Redis databases start empty: no job of an earlier run is queued."""
    import django_rq

    django_rq.get_connection("default").flushdb()  # the queues share one Redis database
    from django.core.cache import cache

    cache.clear()


def _schema_key():
    """What the schema depends on: NetBox's version and the plugin's code."""
    from django.conf import settings

    digest = hashlib.sha1(settings.RELEASE.version.encode())
    for path in sorted((ROOT / "netbox_hedgehog").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _get(url, header, timeout=120):
    request = urllib.request.Request(url, headers={"Authorization": header, "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (our own server)
        return response.read()


def _wait_for(url, header, server, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"NetBox exited with {server.returncode}: see {server.log_path}")
        try:
            _get(url, header, timeout=5)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise SystemExit(f"NetBox did not answer {url} within {seconds} s: see {server.log_path}")


def _schema(base, header, out):
    """NetBox's OpenAPI schema as the app serves it (/api/schema/), kept per NetBox version and plugin
    code: drf-spectacular takes ~30 s over NetBox's ~330 paths."""
    path = out / f"schema-{_schema_key()}.json"
    if not path.exists():
        log("fetching the OpenAPI schema from /api/schema/ (drf-spectacular, ~30 s)")
        body = _get(f"{base}/api/schema/?format=json", header, timeout=300)
        for old in out.glob("schema-*.json"):
            old.unlink()
        path.write_bytes(body)
    return path


def _config(out, ids, full):
    """The committed schemathesis.toml (and quick.toml), plus the dictionaries of this run's real ids."""
    text = (HERE / "schemathesis.toml").read_text()
    if not full:
        text += "\n" + (HERE / "quick.toml").read_text()
    for name, values in ids.items():
        text += f"\n[dictionaries.{name}]\nvalues = {json.dumps(values[:200] or [0])}\n"
    path = out / "schemathesis.toml"
    path.write_text(text)
    return path


# The lookups NetBox adds to every filter (name__ic, name__nic, name__regex, ... ~16 of them) run the
# same code for every filter of one type: each is kept once per operation and parameter type. Every
# filter the plugin declares keeps its own parameter.
LOOKUP = re.compile(r"^(?P<field>.+?)__(?P<lookup>[a-z]+)$")


def _lookup_key(parameter):
    schema = parameter.get("schema", {})
    item = schema.get("items", schema)
    return (
        LOOKUP.match(parameter["name"])["lookup"],
        schema.get("type"),
        item.get("type"),
        item.get("format"),
        "enum" if ("enum" in item or "x-spec-enum-id" in item) else "",
    )


def _plugin_schema(full, out, all_lookups):
    """The plugin's paths of NetBox's schema, each NetBox lookup once per parameter type (see LOOKUP)."""
    schema = json.loads(full.read_text())
    schema["paths"] = {path: item for path, item in schema["paths"].items() if re.match(PLUGIN_PATHS, path)}
    kept = dropped = 0
    for item in schema["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or "parameters" not in operation:
                continue
            seen, parameters = set(), []
            for parameter in operation["parameters"]:
                if parameter.get("in") == "query" and LOOKUP.match(parameter["name"]) and not all_lookups:
                    key = _lookup_key(parameter)
                    if key in seen:
                        dropped += 1
                        continue
                    seen.add(key)
                kept += 1
                parameters.append(parameter)
            operation["parameters"] = parameters
    path = out / "schema-plugin.json"
    path.write_text(json.dumps(schema))
    if dropped:
        log(
            f"{len(schema['paths'])} plugin paths; parameters kept {kept}, repeated NetBox lookups left out {dropped}"
        )
    return path


def _schemathesis(args, schema, config, base, header, out):
    st = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    command = [
        st,
        "--config-file",
        str(config),
        "run",
        str(schema),
        "--url",
        base,
        "--header",
        f"Authorization: {header}",
        "--seed",
        str(args.seed),
        "--max-examples",
        str(args.max_examples),
        "--report",
        "junit",
        "--report-junit-path",
        str(out / "junit.xml"),
        "--no-color",
        *(["--max-time", str(args.seconds)] if args.seconds else []),
        *args.st_args,
    ]
    log(f"schemathesis: {' '.join(command[:5])} ... (seed {args.seed})")
    process = subprocess.Popen(command, cwd=out, start_new_session=True)
    try:
        return process.wait(timeout=args.timeout), False
    except subprocess.TimeoutExpired:
        log(
            f"schemathesis ran past {args.timeout} s: interrupting it (its reports are written on the way out)"
        )
        os.killpg(process.pid, signal.SIGINT)
        try:
            return process.wait(timeout=60), True
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait(), True


def _start_server(port, out, name="server"):
    server_log = out / f"{name}.log"
    log(f"starting NetBox on http://127.0.0.1:{port} (log: {server_log})")
    with open(server_log, "w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "fuzz.server", f"127.0.0.1:{port}", str(out / f"{name}-exceptions.jsonl")],
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server.log_path = server_log
    return server


def _stop_server(server):
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def _port_free(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _terminate(signum, frame):
    """SIGTERM (or SIGINT) ends the run through the `finally` blocks that stop the server."""
    raise SystemExit(128 + signum)


def serve(args):
    """The last run's database served again, until Ctrl-C (log: serve.log, serve-exceptions.jsonl)."""
    if not (args.out / "api-token").exists():
        raise SystemExit("no fuzz run to serve: run `make fuzz` first")
    server = _start_server(args.port, args.out, "serve")
    try:
        header = (args.out / "api-token").read_text().strip()
        _wait_for(f"http://127.0.0.1:{args.port}/api/status/", header, server)
        print(f"serving the last fuzz run's database; header: Authorization: $(cat {args.out / 'api-token'})")
        server.wait()
    finally:
        _stop_server(server)
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    if not _port_free(args.port):
        raise SystemExit(f"something already listens on 127.0.0.1:{args.port}: set FUZZ_PORT to another port")
    args.timeout = args.timeout or (2400 if args.full else 600)
    if args.serve:
        return serve(args)
    for old in ("server-exceptions.jsonl", "junit.xml", "corpus.json", "summary.txt"):
        (out / old).unlink(missing_ok=True)

    django.setup()
    from django.db import connections

    from hedgehog_kube_emulator import EmulatedCluster, demo_fabric_yaml

    from . import corpus
    from .report import report
    from .seed import seed

    _flush_redis()
    with EmulatedCluster() as cluster:
        cluster.seed(demo_fabric_yaml())
        log(f"seeding the fuzz database (emulated cluster at {cluster.url})")
        header, fixtures, ids, states = seed(cluster, cluster.kubeconfig("fuzz"))
        connections.close_all()
        token_file = out / "api-token"
        token_file.write_text(header + "\n")
        token_file.chmod(0o600)
        for name, state in states.items():
            print(f"    {name:34} {state}", file=sys.stderr)
        print("    ids: " + ", ".join(f"{k} {min(v)}-{max(v)}" for k, v in ids.items() if v), file=sys.stderr)

        base = f"http://127.0.0.1:{args.port}"
        server = _start_server(args.port, out)
        try:
            _wait_for(f"{base}/api/status/", header, server)
            schema = _plugin_schema(_schema(base, header, out), out, args.full)
            config = _config(out, ids, args.full)
            answers = corpus.send(base, header, fixtures, ids)
            (out / "corpus.json").write_text(json.dumps(answers, indent=1))
            errors = [a for a in answers if a[3] >= 500]
            log(f"hostile corpus (fuzz/corpus.py): {len(answers)} requests, {len(errors)} answered 5xx")
            started = time.monotonic()
            code, interrupted = _schemathesis(args, schema, config, base, header, out)
            elapsed = time.monotonic() - started
        finally:
            _stop_server(server)
    log("summary (the inputs are minimized by replaying them here)")
    return report(out, code, interrupted, elapsed, base, schema, header)


if __name__ == "__main__":
    sys.exit(main())
