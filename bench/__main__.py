"""make bench: measure the plugin beside a floor measured in the same run; write bench/results.json.

The machine is shared and noisy: compare the ratios, not the absolute figures.
"""

import argparse
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import django


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--transitions", type=int, default=2000, help="transitions per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="measurements (rounds); the best is kept")
    parser.add_argument("--fleet", type=int, default=200, help="fabrics in the health-check round")
    parser.add_argument("--fleet-hanging", type=int, default=40, help="of which behind a black hole")
    parser.add_argument(
        "--workers-fleet", type=int, default=2000, help="fabrics in the round spread over workers"
    )
    parser.add_argument("--workers-silent", type=int, default=400, help="of which silent")
    parser.add_argument("--worker-counts", default="1,2,4", help="RQ workers per measured round")
    parser.add_argument("--sync-objects", type=int, default=10_000, help="resources in the sync benchmark")
    parser.add_argument(
        "--sync-sizes", default="10000,50000,100000", help="sizes synced in a child process each ('': skip)"
    )
    parser.add_argument("--bulk-delete", type=int, default=5000, help="resources deleted from the list page")
    parser.add_argument("--list-small", type=int, default=10_000, help="resources, first list size")
    parser.add_argument("--list-large", type=int, default=100_000, help="resources, second list size")
    parser.add_argument("--changes", type=int, default=60, help="cluster changes timed through the watch")
    parser.add_argument("--clients", type=int, default=16, help="concurrent REST clients")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the REST clients run")
    parser.add_argument(
        "--only",
        choices=(
            "transitions",
            "fleet",
            "fleet_workers",
            "sync",
            "bulk_delete",
            "concurrency",
            "freshness",
            "lists",
        ),
        help="one benchmark",
    )
    parser.add_argument("--output", default=str(Path(__file__).parent / "results.json"))
    args = parser.parse_args(argv)

    django.setup()
    from . import bulk_delete, concurrency, fleet, fleet_workers, freshness, lists, sync, transitions

    benchmarks = {
        "transitions": lambda: transitions.run(args.transitions, args.repeat),
        "fleet": lambda: fleet.run(args.fleet, args.fleet_hanging, args.repeat),
        "fleet_workers": lambda: fleet_workers.run(
            args.workers_fleet, args.workers_silent, tuple(int(n) for n in args.worker_counts.split(","))
        ),
        "sync": lambda: sync.run(args.sync_objects, tuple(int(n) for n in args.sync_sizes.split(",") if n)),
        "bulk_delete": lambda: bulk_delete.run(args.bulk_delete),
        "concurrency": lambda: concurrency.run(args.clients, args.seconds),
        "freshness": lambda: freshness.run(args.changes),
        "lists": lambda: lists.run((args.list_small, args.list_large)),
    }
    if args.only:
        # one benchmark: its entry in the results is replaced, the others are kept
        result = benchmarks[args.only]()
        output = Path(args.output)
        results = json.loads(output.read_text()) if output.exists() else {"benchmarks": {}}
        results["benchmarks"][args.only] = {**result, "when": datetime.now(UTC).isoformat(timespec="seconds")}
        output.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({args.only: result}, indent=2))
        print(f"\n{args.only} written to {args.output}")
        return
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.system()}",
        "benchmarks": {name: run() for name, run in benchmarks.items()},
    }
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    json.dump(results, sys.stdout, indent=2)
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
