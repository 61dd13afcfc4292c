# The live watch: `netbox hedgehog_watch` (docs/watch.md), which keeps a watch on the cluster of every
# planned or active fabric that is connected and was synced, and records changes and drift within
# seconds. Sourced by scripts/dev.sh cmd_up after the demo cluster (ROOT, DEV, VENV, running, log,
# die are set); `make down` stops it through its pid file (SIGTERM to its process group: it exits
# cleanly). Log: .dev/log/watch.log. Fabrics created later (`make demo`) are picked up at its next
# rescan (30 s).

start_watch() {
  local pidfile="$DEV/run/watch.pid"
  if running "$pidfile"; then return 0; fi
  log "starting the live watch (netbox hedgehog_watch)"
  # exec: the pid file names the watch process itself (a session and group leader through setsid),
  # not a shell waiting for it.
  ( (source "$DEV/env" && exec setsid nohup netbox hedgehog_watch >"$DEV/log/watch.log" 2>&1) &
    echo $! > "$pidfile" )
}

start_watch
