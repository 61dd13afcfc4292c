#!/usr/bin/env bash
# Development environment for netbox-hedgehog: one script behind the Makefile targets.
#   setup   venv + NetBox + plugin + the Kubernetes emulator, PostgreSQL and Redis started, NetBox configured and migrated
#   up      setup, then NetBox (runserver), an RQ worker and scripts/up.d/*.sh (the demo cluster)
#   down    stop NetBox, the worker, the demo cluster, Redis and PostgreSQL
#   demo    up, an admin user with an API token, example fabrics, one connected to the demo cluster
#   test    setup, then lint, makemigrations --check and pytest
#   bench   setup, then the benchmarks (results in bench/)
#   config  the NetBox configuration and the secret files under .dev/ only
#   fuzz    setup, then schemathesis against the plugin's REST API in a fresh database (see fuzz/)
# Everything mutable lives under .dev/ (git-ignored); PostgreSQL's data lives under /var/tmp, keyed
# by the checkout's path, because the postgres user may not be able to enter the checkout.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEV="$ROOT/.dev"
VENV="$DEV/venv"
NETBOX_VERSION=4.7.3
NETBOX_PORT=${NETBOX_PORT:-8000}
KEY=$(printf '%s' "$ROOT" | sha1sum | cut -c1-10)
NUM=$((16#${KEY:0:4} % 500))
PG_PORT=${PG_PORT:-$((55000 + NUM))}
REDIS_PORT=${REDIS_PORT:-$((56000 + NUM))}
STATE="/var/tmp/netbox-hedgehog-$KEY"
PGDATA="$STATE/pg"
PGSOCK="$STATE/sock"
CACHE=/var/tmp/netbox-hedgehog-cache
PGBIN=/usr/lib/postgresql/15/bin
CORE_DUMP="$CACHE/netbox-$NETBOX_VERSION-core.dump"

# Every log line starts a step and says when, in seconds since the command started; a summary of
# the steps' durations ends the command (also when it fails). Steps are timed in this shell only: a
# log line in a subshell is printed but not summed.
T0=${EPOCHREALTIME/./}
STEPS=()
STEP=
STEP_T=
seconds() { printf '%d.%d' $(($1 / 1000000)) $(($1 / 100000 % 10)); }  # microseconds -> "12.3"
end_step() {
  [ -n "$STEP" ] || return 0
  STEPS+=("$(seconds $((${EPOCHREALTIME/./} - STEP_T)))"$'\t'"$STEP")
  STEP=
}
# note MESSAGE: a line that ends the current step and starts none
note() {
  end_step
  printf '\033[1m==> %s\033[0m (%ss)\n' "$*" "$(seconds $((${EPOCHREALTIME/./} - T0)))" >&2
}
log() {
  note "$@"
  STEP=$*
  STEP_T=${EPOCHREALTIME/./}
}
summary() {
  local status=$?
  end_step
  [ ${#STEPS[@]} -gt 0 ] || return "$status"
  local total step sum=0 t
  total=$((${EPOCHREALTIME/./} - T0))
  printf '\033[1m==> times (s)%s\033[0m\n' "$([ "$status" = 0 ] || echo ", failed with status $status")" >&2
  for step in "${STEPS[@]}"; do
    t=${step%%$'\t'*}
    printf '%8s  %s\n' "$t" "${step#*$'\t'}" >&2
    sum=$((sum + 10#${t/./} * 100000))
  done
  [ $((total - sum)) -lt 1000000 ] || printf '%8s  %s\n' "$(seconds $((total - sum)))" "(between the steps)" >&2
  printf '%8s  %s\n' "$(seconds "$total")" "total" >&2
  return "$status"
}
trap summary EXIT
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

pick_python() {
  if [ -n "${PYTHON:-}" ]; then
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null \
      || die "PYTHON=$PYTHON is not a working Python >= 3.12"
    echo "$PYTHON"; return
  fi
  local c root
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for c in python3.13 python3.12 python3 "$root/versions/3.12.1/bin/python3.12" "$root"/versions/3.1[2-9]*/bin/python3; do
    if "$c" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then echo "$c"; return; fi
  done
  die "no Python >= 3.12 found; set PYTHON=/path/to/python3.12"
}

pip_quiet() { "$VENV/bin/pip" "$@" 2>&1 | grep -vE "^WARNING: Location '.*' is ignored" || true; }

ensure_packages() {
  local missing=()
  [ -x "$PGBIN/initdb" ] || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} from the distribution"
    command -v apt-get >/dev/null || die "please install: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_venv() {
  local stamp="$VENV/.hedgehog-stamp" want
  want=$(cat "$ROOT/pyproject.toml" "$ROOT/emulator/pyproject.toml" | sha1sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  if [ ! -x "$VENV/bin/python" ]; then
    local py; py=$(pick_python)
    log "creating the virtual environment with $py"
    "$py" -m venv "$VENV"
  fi
  log "installing NetBox $NETBOX_VERSION"
  pip_quiet install -q "netbox==$NETBOX_VERSION"
  log "installing the plugin and the Kubernetes emulator (editable)"
  # The emulator (emulator/, test support and the demo cluster) is a package of its own: the
  # plugin's wheel never carries it.
  pip_quiet install -q -e "$ROOT[dev]" -e "$ROOT/emulator"
  echo "$want" > "$stamp"
}

# Secret files (SECRET_KEY, the API token pepper, the key that encrypts every cluster credential, the
# demo's API token and kubeconfig) are readable by their owner only: created 0600, and put back to
# 0600 when found wider. .dev/ itself is 0700.
SECRET_FILES=(secret-key token-pepper credentials-key api-token demo-kubeconfig.yaml)

# ensure_secret NAME COMMAND...: the file .dev/NAME, made by COMMAND's output if it does not exist.
ensure_secret() {
  local file="$DEV/$1"; shift
  if [ ! -s "$file" ]; then
    (umask 077 && "$@" > "$file.tmp" && mv "$file.tmp" "$file")
  fi
}

fix_secret_modes() {
  chmod 700 "$DEV"
  local name
  for name in "${SECRET_FILES[@]}"; do
    if [ -e "$DEV/$name" ]; then chmod 600 "$DEV/$name"; fi
  done
}

ensure_config() {
  mkdir -p "$DEV/conf" "$DEV/log" "$DEV/run"
  ensure_secret secret-key "$VENV/bin/python" -c 'import secrets,string; a=string.ascii_letters+string.digits+"!@#%^&*(-_=+)"; print("".join(secrets.choice(a) for _ in range(60)))'
  ensure_secret token-pepper "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))'
  ensure_secret credentials-key "$VENV/bin/python" -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'
  fix_secret_modes
  sed -e "s|@PG_PORT@|$PG_PORT|; s|@PG_HOST@|127.0.0.1|; s|@REDIS_PORT@|$REDIS_PORT|; s|@DEV@|$DEV|" \
    "$ROOT/scripts/netbox_configuration.py.in" > "$DEV/conf/hedgehog_dev_configuration.py.new"
  if ! cmp -s "$DEV/conf/hedgehog_dev_configuration.py.new" "$DEV/conf/hedgehog_dev_configuration.py" 2>/dev/null; then
    mv "$DEV/conf/hedgehog_dev_configuration.py.new" "$DEV/conf/hedgehog_dev_configuration.py"
  else
    rm -f "$DEV/conf/hedgehog_dev_configuration.py.new"
  fi
  cat > "$DEV/env" <<ENV
# source this file: the venv and NetBox configuration of this checkout
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:\$PATH"
export PYTHONPATH="$DEV/conf\${PYTHONPATH:+:\$PYTHONPATH}"
export NETBOX_CONFIGURATION=hedgehog_dev_configuration
export DJANGO_SETTINGS_MODULE=netbox.settings
export HEDGEHOG_PG="postgresql://netbox:netbox@127.0.0.1:$PG_PORT/netbox"
export HEDGEHOG_REDIS_PORT=$REDIS_PORT
ENV
}

pg() { runuser -u postgres -- "$@"; }
psql_admin() { pg "$PGBIN/psql" -h "$PGSOCK" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

start_postgres() {
  mkdir -p "$STATE"; chmod 755 "$STATE"; chown postgres: "$STATE"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "initialising a private PostgreSQL cluster in $PGDATA (port $PG_PORT)"
    mkdir -p "$PGDATA" "$PGSOCK"; chown postgres: "$PGDATA" "$PGSOCK"
    pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 >/dev/null
  fi
  mkdir -p "$PGSOCK"; chown postgres: "$PGSOCK"
  if ! pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$STATE/postgres.log" -w \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PGSOCK -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
  fi
  if [ "$(psql_admin -c "select 1 from pg_roles where rolname='netbox'")" != 1 ]; then
    psql_admin -c "create role netbox login password 'netbox' createdb"
  fi
}

start_redis() {
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "starting Redis on 127.0.0.1:$REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
      --pidfile "$DEV/run/redis.pid" --logfile "$DEV/log/redis.log" --dir "$DEV/run"
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
}

nb() { (source "$DEV/env" && netbox "$@"); }

db_exists() { [ "$(psql_admin -c "select 1 from pg_database where datname='$1'")" = 1 ]; }

# NetBox's own ~340 migrations take minutes; they run once per NetBox version and machine, and every
# later database (the instance's, the test database) starts from a dump of their result.
restore_core() {
  local db=$1
  psql_admin -c "create database $db owner netbox"
  pg "$PGBIN/pg_restore" -h "$PGSOCK" -p "$PG_PORT" -U postgres --no-owner --role=netbox -d "$db" "$CORE_DUMP"
}

ensure_core_dump() {
  [ -f "$CORE_DUMP" ] && return
  log "running NetBox's own migrations once (a few minutes; cached in $CACHE)"
  mkdir -p "$CACHE"; chmod 755 "$CACHE"
  db_exists netbox_core && psql_admin -c "drop database netbox_core"
  psql_admin -c "create database netbox_core owner netbox"
  (source "$DEV/env" && HEDGEHOG_DB_NAME=netbox_core HEDGEHOG_NO_PLUGIN=1 netbox migrate --no-input -v 0)
  pg "$PGBIN/pg_dump" -h "$PGSOCK" -p "$PG_PORT" -U postgres -Fc netbox_core > "$CORE_DUMP.tmp"
  mv "$CORE_DUMP.tmp" "$CORE_DUMP"
  psql_admin -c "drop database netbox_core"
}

plugin_migrated() {
  local names count
  names=$(cd "$ROOT/netbox_hedgehog/migrations" && ls [0-9]*.py | sed 's/\.py$//')
  count=$(printf '%s\n' "$names" | wc -l)
  [ "$(psql_admin -d netbox -c "select count(*) from django_migrations where app = 'netbox_hedgehog'
    and name in ($(printf "'%s'," $names | sed 's/,$//'))")" = "$count" ]
}

ensure_databases() {
  ensure_core_dump
  if ! db_exists netbox; then
    log "creating the NetBox database"
    restore_core netbox
  fi
  # `migrate` takes 15-30 s even with nothing to do: run it only when NetBox's version changed or a
  # migration of the plugin is not recorded as applied (migrate applies nothing else).
  if [ "$(cat "$DEV/netbox.migrated" 2>/dev/null)" != "$NETBOX_VERSION" ] || ! plugin_migrated; then
    log "applying the plugin's migrations"
    nb migrate --no-input -v 0
    echo "$NETBOX_VERSION" > "$DEV/netbox.migrated"
  fi
  # The test database starts from the same dump; pytest --reuse-db then applies the plugin's
  # migrations. It is rebuilt whenever the plugin's migrations change.
  local mig; mig=$(cat "$ROOT"/netbox_hedgehog/migrations/*.py | sha1sum | cut -c1-16)
  local testdb=${HEDGEHOG_TEST_DB:-test_netbox}
  if [ "$(cat "$DEV/$testdb.stamp" 2>/dev/null)" != "$mig" ] || ! db_exists "$testdb"; then
    log "creating the test database $testdb from the core dump"
    db_exists "$testdb" && psql_admin -c "drop database $testdb with (force)"
    restore_core "$testdb"
    echo "$mig" > "$DEV/$testdb.stamp"
  fi
}

cmd_setup() {
  ensure_packages
  ensure_venv
  ensure_config
  start_postgres
  start_redis
  ensure_databases
  note "environment ready: source .dev/env to use 'netbox <command>'"
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# start_bg NAME COMMAND...: COMMAND in the background, in its own session (so that stop_pidfile
# stops it with its children), output in .dev/log/NAME.log, pid in .dev/run/NAME.pid. The command
# must be the simple command behind `&`: in an && list bash forks a wrapper shell, whose pid $!
# would be instead (make down then left the server running, and the wrapper held the caller's
# stdout open).
start_bg() {
  local name=$1; shift
  setsid nohup "$@" </dev/null >"$DEV/log/$name.log" 2>&1 &
  echo $! > "$DEV/run/$name.pid"
}

cmd_up() {
  cmd_setup
  local static; static=$( (echo "$NETBOX_VERSION"; cd "$ROOT" && find netbox_hedgehog -path '*/static/*' -type f \
    -print0 | sort -z | xargs -0r sha1sum) | sha1sum | cut -c1-16)
  # NetBox collects into its own package directory (in the venv): the stamp lives there too.
  if [ "$(cat "$VENV/.hedgehog-static-stamp" 2>/dev/null)" != "$static" ]; then
    log "collecting static files"
    (source "$DEV/env" && netbox collectstatic --no-input -v 0)
    echo "$static" > "$VENV/.hedgehog-static-stamp"
  fi
  if ! running "$DEV/run/netbox.pid"; then
    log "starting NetBox on http://127.0.0.1:$NETBOX_PORT"
    (source "$DEV/env"; start_bg netbox netbox runserver --noreload --insecure "127.0.0.1:$NETBOX_PORT")
  fi
  if ! running "$DEV/run/worker.pid"; then
    log "starting the RQ worker"
    (source "$DEV/env"; start_bg worker netbox rqworker high default low)
  fi
  for extra in "$ROOT"/scripts/up.d/*.sh; do [ -f "$extra" ] && source "$extra"; done
  log "waiting for NetBox to answer"
  for _ in $(seq 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$NETBOX_PORT/login/" 2>/dev/null && return
    running "$DEV/run/netbox.pid" || die "NetBox did not start: see .dev/log/netbox.log"
    sleep 0.5
  done
  die "NetBox did not answer on port $NETBOX_PORT: see .dev/log/netbox.log"
}

stop_pidfile() {
  local f=$1
  if running "$f"; then
    local pid; pid=$(cat "$f")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

cmd_down() {
  for f in "$DEV"/run/*.pid; do
    [ -f "$f" ] || continue
    case "$(basename "$f")" in redis.pid) ;; *) stop_pidfile "$f" ;; esac
  done
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; fi
  if [ -f "$PGDATA/PG_VERSION" ] && pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  note "stopped"
}

cmd_demo() {
  cmd_up
  log "creating the admin user, its API token and the example fabrics"
  nb hedgehog_demo --api-token-file "$DEV/api-token" --cluster-kubeconfig "$DEMO_KUBECONFIG"
  log "installing the plugin's scripts"
  nb hedgehog_install_scripts
  note "demo ready"
  cat <<MSG

NetBox with netbox-hedgehog is serving at http://127.0.0.1:$NETBOX_PORT/plugins/hedgehog/fabrics/
  login: admin / admin
  API:   curl -H "Authorization: \$(cat .dev/api-token)" http://127.0.0.1:$NETBOX_PORT/api/plugins/hedgehog/fabrics/
  shell: source .dev/env && netbox nbshell
The fabric demo-cluster connects to the demo cluster at https://127.0.0.1:$DEMO_CLUSTER_PORT
(kubeconfig: .dev/demo-kubeconfig.yaml; press "Test connection" on its page). That cluster is an
in-memory stand-in, an emulated Kubernetes API server seeded with a small Hedgehog fabric: no real
switches behind it, and its state is lost when it stops.
Stop everything with: make down
MSG
}

cmd_lint() {
  log "lint (ruff)"
  (source "$DEV/env" && cd "$ROOT" && ruff check netbox_hedgehog emulator tests bench fuzz && ruff format --check netbox_hedgehog emulator tests bench fuzz)
  log "import contracts (one-way dependencies, see docs/architecture.md)"
  (source "$DEV/env" && cd "$ROOT" && lint-imports --no-cache)
}

cmd_test() {
  cmd_setup
  cmd_lint
  log "makemigrations --check"
  (source "$DEV/env" && DEVELOPER=1 netbox makemigrations netbox_hedgehog --check --dry-run -v 1)
  log "tests"
  (source "$DEV/env" && cd "$ROOT" && pytest "$@")
}

cmd_bench() {
  cmd_setup
  log "benchmarks"
  (source "$DEV/env" && cd "$ROOT" && python -m bench "$@")
}

# A fuzz run writes garbage and deletes what it can: it gets a database of its own, new at every run
# (the same seed then meets the same rows and ids), copied in 0.1 s from a template that is the core
# dump plus the plugin's migrations, rebuilt when those change.
ensure_fuzz_database() {
  local mig; mig=$( (echo "$NETBOX_VERSION"; cat "$ROOT"/netbox_hedgehog/migrations/*.py) | sha1sum | cut -c1-16)
  if [ "$(cat "$DEV/fuzz_template.stamp" 2>/dev/null)" != "$mig" ] || ! db_exists fuzz_template; then
    log "preparing the fuzz database template (the plugin's migrations on the core dump)"
    db_exists fuzz_template && psql_admin -c "drop database fuzz_template with (force)"
    restore_core fuzz_template
    (source "$DEV/env" && HEDGEHOG_DB_NAME=fuzz_template netbox migrate --no-input -v 0)
    echo "$mig" > "$DEV/fuzz_template.stamp"
  fi
  db_exists fuzz && psql_admin -c "drop database fuzz with (force)"
  psql_admin -c "create database fuzz owner netbox template fuzz_template"
}

# NetBox runs as a server in its own process (fuzz/server.py), not as a WSGI app inside schemathesis:
# schemathesis' command line (phases, seed, budgets, reports, exit code, curl lines) speaks HTTP only,
# and a separate process is the shape of a deployment; see fuzz/__init__.py.
cmd_fuzz() {
  cmd_setup
  # --serve serves the last run's database again (to replay its curl commands): keep it
  case " $* " in *" --serve "*) db_exists fuzz || die "no fuzz database: run make fuzz first" ;; *) ensure_fuzz_database ;; esac
  log "fuzzing the REST API"
  (source "$DEV/env" && cd "$ROOT" && HEDGEHOG_DB_NAME=fuzz HEDGEHOG_REDIS_DB=4 \
    FUZZ_PORT=${FUZZ_PORT:-$((58000 + NUM))} python -m fuzz "$@")
}

case "${1:-}" in
  setup|up|down|demo|test|bench|fuzz|lint) c=$1; shift; "cmd_$c" "$@" ;;
  config) mkdir -p "$DEV"; ensure_config ;;  # the configuration and secret files only (needs the venv)
  *) die "usage: $0 setup|up|down|demo|test|bench|fuzz|lint|config" ;;
esac
