"""The summary of a fuzz run: the server errors grouped by root cause, the status codes the plugin's
actions answer that the schema does not document, and anything else schemathesis flagged.

Sources, joined by schemathesis' test case id: junit.xml (what schemathesis saw, with a curl command
per failure), server-exceptions.jsonl (every exception the server raised, with its traceback and the request;
see fuzz/server.py) and corpus.json (fuzz/corpus.py). The exceptions count every 500, not only the one
example per operation and check that schemathesis keeps.

A root cause is the exception's type, the deepest frame of the plugin's or NetBox's own code it passed
through, and its message without the values. Its minimal input starts as the shortest request that
raised it; the request is then replayed through Django's test client against the run's database,
dropping query parameters, body fields and characters for as long as the same root cause is raised
(a bounded number of replays). The replay also shows whether the request fails on its own or needed
the state of the moment.
"""

import json
import re
import shlex
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 100
TOKEN = '"Authorization: $(cat .dev/fuzz/api-token)"'
FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
REPLAYS_PER_CAUSE = 150
REPLAY_SECONDS = 90
NETBOX_PACKAGES = {
    str(f).split("/", 1)[0]
    for f in (metadata.files("netbox") or ())
    if "/" in str(f) and ".dist-info" not in str(f)
}


def _short(path):
    return re.sub(r"^.*/site-packages/", "", path.replace(str(ROOT) + "/", ""))


def _frames(entry):
    """[(file, line, function, first source line)] of a formatted traceback, outermost first."""
    frames = []
    for block in entry["traceback"]:
        first, _, rest = block.partition("\n")
        match = FRAME.match(first)
        if match:
            source = rest.strip().splitlines()[0].strip() if rest.strip() else ""
            frames.append((_short(match["file"]), int(match["line"]), match["func"], source))
    return frames


def _owner(file):
    if file.startswith("netbox_hedgehog/"):
        return "plugin"
    return "netbox" if file.split("/", 1)[0] in NETBOX_PACKAGES else ""


def _message_head(message):
    """The message without its values, so one cause is one group."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    head, sep, _rest = line.partition(": ")
    if sep and len(head) >= 10:
        line = head
    line = re.sub(r"'[^']*'|\"[^\"]*\"", "…", line)
    return re.sub(r"\d+", "N", line)[:160]


def root_cause(entry):
    frames = _frames(entry)
    ours = [f for f in frames if _owner(f[0])]
    where = (ours or frames or [("?", 0, "?", "")])[-1]
    return (entry["exception"], f"{where[0]}:{where[1]}", _message_head(entry["message"]))


def _as_entry(exc):
    return {
        "exception": type(exc).__name__,
        "message": str(exc)[:500],
        "traceback": traceback.format_exception(exc),
    }


# ---------------------------------------------------------------------------------------------- replay


class Replayer:
    """Requests sent again in this process (Django's test client, the run's database)."""

    def __init__(self, header):
        from django.test import Client

        self.client = Client(HTTP_AUTHORIZATION=header)
        self.replays = 0
        self.deadline = time.monotonic() + REPLAY_SECONDS

    def send(self, method, path, query, body, content_type):
        self.replays += 1
        url = path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        try:
            response = self.client.generic(method, url, body, content_type=content_type or "application/json")
        except Exception as exc:  # noqa: BLE001 - what the request raises is what we look for
            return exc
        return response.status_code

    def minimize(self, entry, key):
        """(minimal entry, what the first replay did), for as long as the budget lasts."""
        method, path = entry["method"], entry["path"]
        query = urllib.parse.parse_qsl(entry["query"], keep_blank_values=True)
        ctype = entry["content_type"]
        raw = entry["body"].encode()
        if entry["body_length"] > len(raw):
            return entry, "not replayed: the recorded body was cut"
        first = self.send(method, path, query, raw, ctype)
        if not isinstance(first, Exception):
            return entry, f"answered {first} when sent again alone: it needed the state of the moment"
        if root_cause(_as_entry(first)) != key:
            return entry, f"raised another exception when sent again alone ({type(first).__name__})"
        budget = [REPLAYS_PER_CAUSE]

        def same(q, b):
            if budget[0] <= 0 or time.monotonic() > self.deadline:
                return False
            budget[0] -= 1
            result = self.send(method, path, q, b, ctype)
            return isinstance(result, Exception) and root_cause(_as_entry(result)) == key

        query = self._minimize_query(query, raw, same)
        body = raw
        if raw and len(raw) <= 20_000 and (ctype or "").startswith("application/json"):
            try:
                data = json.loads(raw)
            except (ValueError, RecursionError):
                data = None
            if data is not None:
                data = self._minimize_json(data, lambda d: same(query, json.dumps(d).encode()))
                body = json.dumps(data).encode()
        minimal = dict(entry, query=urllib.parse.urlencode(query), body=body.decode("utf-8", "replace"))
        minimal["body_length"] = len(body)
        return minimal, "raises the same exception when sent again alone"

    @staticmethod
    def _shorter(text, keeps):
        """Drop chunks of `text` (halves, quarters, ... single characters) while keeps(text) holds."""
        if len(text) > 64:
            return text  # a kubeconfig, a certificate...: cut at random it stays long and gets unreadable
        if text and keeps(""):
            return ""
        size = max(1, len(text) // 2)
        while size >= 1 and text:
            i = 0
            while i < len(text):
                candidate = text[:i] + text[i + size :]
                if candidate != text and keeps(candidate):
                    text = candidate
                else:
                    i += size
            size //= 2
        return text

    def _minimize_query(self, query, body, same):
        for i in range(len(query) - 1, -1, -1):
            candidate = query[:i] + query[i + 1 :]
            if same(candidate, body):
                query = candidate
        for i in range(len(query)):
            (name, value), head, tail = query[i], query[:i], query[i + 1 :]
            value = self._shorter(value, lambda v, h=head, t=tail, n=name: same([*h, (n, v), *t], body))
            query = [*head, (name, value), *tail]
        return query

    def _minimize_json(self, data, keeps, depth=0):
        if depth > 50:
            return data
        if isinstance(data, dict):
            for name in list(data):
                candidate = {k: v for k, v in data.items() if k != name}
                if keeps(candidate):
                    data = candidate
            for name in list(data):
                data[name] = self._minimize_json(
                    data[name], lambda v, name=name: keeps({**data, name: v}), depth + 1
                )
        elif isinstance(data, list):
            for i in range(len(data) - 1, -1, -1):
                candidate = data[:i] + data[i + 1 :]
                if keeps(candidate):
                    data = candidate
            for i in range(len(data)):
                data[i] = self._minimize_json(
                    data[i], lambda v, i=i: keeps([*data[:i], v, *data[i + 1 :]]), depth + 1
                )
        elif isinstance(data, str):
            data = self._shorter(data, keeps)
        return data


# ------------------------------------------------------------------------------------------- sources


def _templates(schema_path):
    schema = json.loads(Path(schema_path).read_text())
    templates = []
    for template in schema["paths"]:
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        templates.append((re.compile(pattern), template))
    templates.sort(key=lambda t: -len(t[1]))  # /fabrics/{id}/sync/ before /fabrics/{id}/
    return templates


def _template(templates, path):
    return next((template for pattern, template in templates if pattern.match(path)), path)


def _failures(junit):
    """schemathesis' failures in junit.xml, one dict per failing test case."""
    if not Path(junit).exists():
        return []
    found = []
    for case in ET.parse(junit).iter("testcase"):
        for failure in case.findall("failure"):
            for block in re.split(r"(?m)^\d+\. Test Case ID: ", failure.text or "")[1:]:
                received = re.search(r"(?m)^\s+Received: (\d+)", block) or re.search(r"(?m)^\[(\d+)\]", block)
                documented = re.search(r"(?m)^\s+Documented: ([^\n]+)", block)
                curl = re.search(r"(?m)^\s+(curl [^\n]+)$", block)
                found.append(
                    {
                        "operation": case.get("name"),
                        "case_id": block.split("\n", 1)[0].strip(),
                        "checks": re.findall(r"(?m)^- (ST\d+ [^\n]+)$", block),
                        "status": int(received[1]) if received else None,
                        "documented": documented[1] if documented else "",
                        "curl": _clean_curl(curl[1]) if curl else "",
                    }
                )
    return found


def _clean_curl(curl):
    curl = curl.replace("-H 'Authorization: [Filtered]'", f"-H {TOKEN}")
    return curl.replace(" -H 'Cookie: [Filtered]'", "")


def _curl(base, entry):
    url = base + entry["path"] + (f"?{entry['query']}" if entry["query"] else "")
    parts = ["curl", "-X", entry["method"], "-H", TOKEN]
    note = ""
    if entry["body_length"]:
        body = entry["body"]
        if len(body) > 300:
            body, note = (
                body[:300],
                f"  # the body ({entry['body_length']} bytes) is cut here: see server-exceptions.jsonl",
            )
        parts += ["-H", shlex.quote(f"Content-Type: {entry['content_type'] or 'application/json'}")]
        parts += ["-d", shlex.quote(body)]
    return " ".join([*parts, shlex.quote(url)]) + note


def _rule(title):
    return f"\n=== {title} {'=' * max(3, WIDTH - len(title) - 5)}"


def _statuses(server_log):
    statuses = Counter()
    if server_log.exists():
        for line in server_log.read_text(errors="replace").splitlines():
            match = re.search(r'" (\d{3}) \d+$', line)
            if match:
                statuses[match[1]] += 1
    return statuses


# -------------------------------------------------------------------------------------------- report


def report(out, code, interrupted, elapsed, base, schema_path, header):
    out = Path(out)
    templates = _templates(schema_path)
    exceptions = out / "server-exceptions.jsonl"
    entries = (
        [json.loads(line) for line in exceptions.read_text().splitlines() if line.strip()]
        if exceptions.exists()
        else []
    )
    corpus_names = {}
    if (out / "corpus.json").exists():
        corpus_names = {
            f"corpus-{n}": a[0] for n, a in enumerate(json.loads((out / "corpus.json").read_text()), 1)
        }
    failures = _failures(out / "junit.xml")
    lines = []
    say = lines.append

    groups = defaultdict(list)
    for entry in entries:
        groups[root_cause(entry)].append(entry)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    replayer = Replayer(header)
    by_function = defaultdict(list)
    say(
        _rule(
            f"make fuzz: {len(ordered)} distinct server errors; {len(entries)} requests raised an exception"
        )
    )
    for number, (key, group) in enumerate(ordered, 1):
        exc_type, where, _head = key
        generated_entries = [e for e in group if not e["case_id"].startswith("corpus-")]
        shortest = min(
            generated_entries or group, key=lambda e: (e["body_length"] + len(e["query"]), len(e["path"]))
        )
        if generated_entries:
            minimal, replayed = replayer.minimize(shortest, key)
        else:
            minimal, replayed = shortest, "not minimized: a request of fuzz/corpus.py, as written there"
        frames = _frames(shortest)
        endpoints = Counter(f"{e['method']} {_template(templates, e['path'])}" for e in group)
        from_corpus = sorted(
            {
                corpus_names.get(e["case_id"], e["case_id"])
                for e in group
                if e["case_id"].startswith("corpus-")
            }
        )
        generated = sum(1 for e in group if not e["case_id"].startswith("corpus-"))
        message = shortest["message"].splitlines()[0][:200] if shortest["message"] else ""
        say(f"\n[{number}] {exc_type}: {message}")
        plugin = [f for f in frames if _owner(f[0]) == "plugin"]
        say(
            f"    at {where}"
            + (
                f" (deepest plugin frame: {plugin[-1][0]}:{plugin[-1][1]} in {plugin[-1][2]})"
                if plugin
                else " (no plugin frame: NetBox's code)"
            )
        )
        say("    endpoints: " + "; ".join(f"{op} x{n}" for op, n in endpoints.most_common()))
        found_by = []
        if generated:
            found_by.append(f"schemathesis x{generated}")
        if from_corpus:
            found_by.append("the corpus: " + "; ".join(from_corpus))
        say("    found by: " + ", ".join(found_by))
        query = f"?{minimal['query']}" if minimal["query"] else ""
        body = ""
        if minimal["body_length"]:
            body = f" {minimal['body'][:200]}" + (
                f"… ({minimal['body_length']} bytes)" if minimal["body_length"] > 200 else ""
            )
        say(f"    minimal input: {minimal['method']} {minimal['path']}{query}{body}")
        say(f"    replay: {replayed}")
        say(f"    reproduce: {_curl(base, minimal)}")
        say("    traceback (innermost frames of NetBox and the plugin, then where it was raised):")
        shown = [f for f in frames if _owner(f[0])][-3:]
        if frames and frames[-1] not in shown:
            shown.append(frames[-1])
        for file, line, func, source in shown:
            say(f"      {file}:{line} in {func}: {source[:100]}")
        say(f"      {exc_type}: {message}")
        if plugin:
            by_function[f"{plugin[-1][0]} {plugin[-1][2]}()"].append(number)
        else:
            outer = [f for f in frames if _owner(f[0]) == "netbox"]
            by_function[f"NetBox: {outer[-1][0]} {outer[-1][2]}()" if outer else "elsewhere"].append(number)
    if entries:
        say(f"\n  ({replayer.replays} replays to minimize the inputs)")
        say("\n  by the deepest plugin function they went through (or NetBox's, with none):")
        for function, numbers in sorted(by_function.items(), key=lambda item: item[1]):
            say(f"    {function}: " + " ".join(f"[{n}]" for n in numbers))

    known = {e["case_id"] for e in entries}
    unexplained = [
        f for f in failures if any(c.startswith("ST101") for c in f["checks"]) and f["case_id"] not in known
    ]
    if unexplained:
        say(_rule("5xx answers with no exception behind them"))
        for f in unexplained:
            say(f"  {f['operation']}: {f['status']}\n    {f['curl']}")

    undocumented = defaultdict(dict)
    for f in failures:
        if any(c.startswith("ST103") for c in f["checks"]):
            undocumented[f["operation"]].setdefault(f["status"], f)
    count = sum(len(v) for v in undocumented.values())
    say(_rule(f"undocumented status codes of the plugin's actions (status_code_conformance): {count}"))
    for operation, by_status in sorted(undocumented.items()):
        documented = next(iter(by_status.values()))["documented"]
        listed = ", ".join(f"{s}{' (a server error, above)' if s >= 500 else ''}" for s in sorted(by_status))
        say(f"  {operation}: answers {listed}; the schema documents {documented}")
        for status, f in sorted(by_status.items()):
            if status < 500:
                say(f"    {status}: {f['curl']}")

    other = [f for f in failures if not any(c.startswith(("ST101", "ST103")) for c in f["checks"])]
    if other:
        say(_rule("other failures"))
        for f in other:
            say(f"  {f['operation']}: {', '.join(f['checks'])}\n    {f['curl']}")

    statuses = _statuses(out / "server.log")
    say(_rule("run"))
    say(
        f"  {sum(statuses.values())} requests, schemathesis {elapsed:.0f} s; answers: "
        + ", ".join(f"{s} x{n}" for s, n in sorted(statuses.items()))
    )
    say(f"  schemathesis exit code {code}" + (" (interrupted at the time limit)" if interrupted else ""))
    say(
        f"  files in {_short(str(out))}/: summary.txt, junit.xml, server-exceptions.jsonl (every traceback), server.log"
    )
    say(
        "  the curl commands need the run's server: `make fuzz ARGS=--serve` starts it again on the run's database"
    )
    failed = code != 0 or bool(entries) or bool(unexplained)
    say(f"  result: {'FAILED' if failed else 'passed'}")
    print("\n".join(lines), flush=True)
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    return 1 if failed else 0
