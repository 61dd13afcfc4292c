"""Run the emulated Kubernetes API server as a process (the demo cluster).

    python -m hedgehog_kube_emulator --port 0 --kubeconfig /tmp/demo.kubeconfig --seed demo

Serves until SIGTERM or SIGINT. The first line on stdout is the server's URL; the kubeconfig (and,
with TLS, the CA certificate next to it as ``<kubeconfig>.ca.crt``) is written before that line, so
a parent process can wait for it. The cluster is in memory: no schema validation, no controllers,
and its state is lost on exit.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from . import ARGOCD_RESOURCES, DemoActivity, EmulatedCluster, demo_fabric_yaml


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hedgehog_kube_emulator",
        description="An emulated Kubernetes API server with the Hedgehog Fabric API (in memory).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument("--kubeconfig", type=Path, help="write a kubeconfig for the cluster to this path")
    parser.add_argument("--context", default="hedgehog-demo", help="context name in the kubeconfig")
    parser.add_argument("--token", help="the bearer token clients must send (default: a random one)")
    parser.add_argument(
        "--seed",
        action="append",
        default=[],
        metavar="demo|PATH",
        help="objects to start with: 'demo' (the bundled demo fabric) or a YAML file; repeatable",
    )
    parser.add_argument("--no-tls", action="store_true", help="serve plain HTTP")
    parser.add_argument("--plain", action="store_true", help="serve no Hedgehog API (not a Hedgehog fabric)")
    parser.add_argument("--argocd", action="store_true", help="also serve Argo CD Applications")
    parser.add_argument(
        "--application",
        action="append",
        default=[],
        metavar="NAMESPACE/NAME",
        help="with --argocd: an Argo CD Application that starts deploying (OutOfSync, Progressing, "
        "Running) and completes with --demo-activity; repeatable",
    )
    parser.add_argument(
        "--demo-activity",
        type=float,
        metavar="SECONDS",
        help="the demo's timeline: switches send heartbeats every 15 s, and SECONDS after a client first "
        "reads one of the Applications they complete (Synced, Healthy, Succeeded) and the switches still "
        "applying catch up",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.verbose:
        logging.getLogger("hedgehog_kube_emulator").setLevel(logging.DEBUG)
    seeds = []
    for seed in args.seed:
        seeds.append(demo_fabric_yaml() if seed == "demo" else Path(seed).read_text("utf-8"))

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    cluster = EmulatedCluster(
        tls=not args.no_tls,
        token=args.token,
        host=args.host,
        port=args.port,
        hedgehog=not args.plain,
        resources=ARGOCD_RESOURCES if args.argocd or args.application else (),
    )
    cluster.start()
    activity = None
    try:
        for text in seeds:
            cluster.seed(text)
        applications = []
        for given in args.application:
            namespace, _, name = given.rpartition("/")
            applications.append((namespace or "argocd", name))
            cluster.set_application(
                name,
                namespace or "argocd",
                sync="OutOfSync",
                health="Progressing",
                phase="Running",
                health_message="Waiting for the switches to apply their configuration",
            )
        if args.demo_activity is not None:
            activity = DemoActivity(
                cluster,
                argocd_sync_after=args.demo_activity,
                applications=tuple(applications),
                log=lambda message: print(message, file=sys.stderr, flush=True),
            ).start()
        if args.kubeconfig:
            cluster.write_kubeconfig(args.kubeconfig, args.context)
            if cluster.tls:
                ca_path = args.kubeconfig.with_name(args.kubeconfig.name + ".ca.crt")
                ca_path.write_text(cluster.ca_pem)
            print(f"kubeconfig: {args.kubeconfig}", file=sys.stderr)
        print(cluster.url, flush=True)
        stop.wait()
    finally:
        if activity is not None:
            activity.stop()
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
