# The demo cluster: the emulated Kubernetes API server (python -m hedgehog_kube_emulator), seeded
# with the bundled demo fabric, serving https on 127.0.0.1. An in-memory stand-in: no real switches,
# its state is lost when it stops. Sourced by scripts/dev.sh cmd_up (ROOT, DEV, VENV, NUM, running,
# log, die are set); `make down` stops it through its pid file like NetBox and the worker.
#   DEMO_CLUSTER_PORT   port (default derived from the checkout's path, like PostgreSQL's and Redis's)
#   DEMO_ARGOCD_AFTER   seconds after NetBox first reads an Application when the demo's Argo CD
#                       deployment completes (90)
# Its kubeconfig (server URL, CA, a bearer token new at every start) is written to
# .dev/demo-kubeconfig.yaml. When the cluster is (re)started and the demo-cluster and gitops-fabric
# fabrics exist, they are given the new kubeconfig (a connection test follows); `make demo` creates them.

DEMO_CLUSTER_PORT=${DEMO_CLUSTER_PORT:-$((57000 + NUM))}
DEMO_ARGOCD_AFTER=${DEMO_ARGOCD_AFTER:-90}
DEMO_KUBECONFIG="$DEV/demo-kubeconfig.yaml"

demo_cluster_answers() {
  # Any HTTP answer over TLS verified with the cluster's CA (401 without a token) means it serves.
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$DEMO_KUBECONFIG.ca.crt" \
    "https://127.0.0.1:$DEMO_CLUSTER_PORT/version" 2>/dev/null) || true
  [ -n "$code" ] && [ "$code" != 000 ]
}

start_demo_cluster() {
  local pidfile="$DEV/run/cluster.pid"
  if running "$pidfile"; then return 0; fi
  log "starting the demo cluster (emulated Kubernetes API, in memory) on https://127.0.0.1:$DEMO_CLUSTER_PORT"
  rm -f "$DEMO_KUBECONFIG" "$DEMO_KUBECONFIG.ca.crt"
  # With Argo CD: the Applications of the two demo fabrics start deploying and complete (Synced,
  # Healthy, Succeeded) DEMO_ARGOCD_AFTER seconds after NetBox first reads one, when leaf-03 also applies its
  # generation; every switch sends a heartbeat every 15 s (docs/argocd.md).
  start_bg cluster "$VENV/bin/python" -m hedgehog_kube_emulator --host 127.0.0.1 \
    --port "$DEMO_CLUSTER_PORT" --seed demo --kubeconfig "$DEMO_KUBECONFIG" \
    --argocd --application argocd/demo-cluster --application argocd/gitops-fabric \
    --demo-activity "$DEMO_ARGOCD_AFTER"
  local ok=
  for _ in $(seq 100); do
    if [ -s "$DEMO_KUBECONFIG" ] && demo_cluster_answers; then ok=1; break; fi
    running "$pidfile" || break
    sleep 0.1
  done
  if [ -z "$ok" ]; then
    tail -n 5 "$DEV/log/cluster.log" >&2 || true
    stop_pidfile "$pidfile"
    die "the demo cluster did not start on port $DEMO_CLUSTER_PORT (DEMO_CLUSTER_PORT=... picks another): see .dev/log/cluster.log"
  fi
  fix_secret_modes  # the kubeconfig holds the demo cluster's token
  # A new cluster has a new CA and token: give them to the demo-cluster fabric if there is one
  # (`make demo` runs hedgehog_demo with the kubeconfig next, which does it: DEMO_CONFIGURES_CLUSTER).
  [ -n "${DEMO_CONFIGURES_CLUSTER:-}" ] || nb hedgehog_demo --cluster-kubeconfig "$DEMO_KUBECONFIG" --cluster-only
}

start_demo_cluster
