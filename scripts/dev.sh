#!/usr/bin/env bash
# Development environment for netbox-hedgehog: one script behind the Makefile targets.
#   setup   venv + NetBox + plugin + the Kubernetes emulator, PostgreSQL and Redis started, NetBox configured and migrated
#   up      setup, then NetBox (runserver), an RQ worker and scripts/up.d/*.sh (the demo cluster)
#   down    stop NetBox, the worker, the demo cluster, Redis and PostgreSQL
#   demo    up, an admin user with an API token, example fabrics, one connected to the demo cluster
#   test    setup, then lint, makemigrations --check and pytest (all but the chaos tests)
#   chaos   setup, then the chaos tests (tests/chaos/: real servers and processes killed; 4-12 min)
#   bench   setup, then the benchmarks (results in bench/)
#   config  the NetBox configuration and the secret files under .dev/ only
#   fuzz    setup, then schemathesis against the plugin's REST API in a fresh database (see fuzz/)
#   netbox-core record|verify   NetBox's own migrations run into a fresh database (minutes), then
#           record: written to scripts/netbox-core/ (after a change of NETBOX_VERSION);
#           verify: compared with the recorded database; fails and shows the differences
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
# What is worth keeping between checkouts of one machine (uv, its downloads, the wheels built here,
# the database dumps) lives in HEDGEHOG_CACHE, under a directory named by NetBox's and Python's
# versions (set_cache_key): a new version of either starts an empty one, rebuilt by itself.
CACHE=${HEDGEHOG_CACHE:-/var/tmp/netbox-hedgehog-cache}
UV_VERSION=0.13.9
PGBIN=/usr/lib/postgresql/15/bin
# NetBox's core database (its own migrations applied, no plugin), recorded in the repository for
# NETBOX_VERSION: scripts/netbox_core.py says how and why.
RECORDED_CORE="$ROOT/scripts/netbox-core/netbox-$NETBOX_VERSION.sql.gz"

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
  # The interpreter's own path, outside any virtual environment (an active one, e.g. another
  # checkout's .dev/env, puts its python3.12 first on PATH; a bare name is resolved by uv again, which
  # may go looking for a Python to download).
  for c in python3.13 python3.12 python3 "$root/versions/3.12.1/bin/python3.12" "$root"/versions/3.1[2-9]*/bin/python3; do
    if "$c" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then
      "$c" -c 'import sys; print(getattr(sys, "_base_executable", "") or sys.executable)'; return
    fi
  done
  die "no Python >= 3.12 found; set PYTHON=/path/to/python3.12"
}

# pip_quiet ARGS...: the venv's pip, without the warnings of a find-links directory that is missing;
# fails when pip fails.
pip_quiet() {
  local out rc=0
  out=$("$VENV/bin/pip" "$@" 2>&1) || rc=$?
  printf '%s\n' "$out" | grep -vE "^WARNING: Location '.*' is ignored|^$" >&2 || true
  return "$rc"
}

python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }

# set_cache_key PYTHON: KEYED, the cache directory of this NetBox version and PYTHON's version, and
# what lives in it.
set_cache_key() {
  KEYED="$CACHE/netbox-$NETBOX_VERSION-py$(python_version "$1")"
  CORE_DUMP="$KEYED/core.dump"
  WHEELS="$KEYED/wheels"  # wheels built here from source distributions (psycopg-c), for the next venv
  export UV_CACHE_DIR="$KEYED/uv"
  mkdir -p "$KEYED" "$WHEELS"
}

# ensure_uv PYTHON: UV, the path of uv (installed from PyPI once per machine into the cache, with a
# venv of PYTHON's for its pip), or empty when it cannot be had (then pip does the work) or
# HEDGEHOG_PIP=1 asks for pip.
ensure_uv() {
  UV=
  [ "${HEDGEHOG_PIP:-}" != 1 ] || return 0
  local dir="$CACHE/uv-$UV_VERSION"
  if [ ! -x "$dir/bin/uv" ]; then
    log "installing uv $UV_VERSION from PyPI into $dir"
    local tmp="$dir.tmp.$$"
    rm -rf "$tmp"
    if "$1" -m venv "$tmp/venv" && pip_quiet_in "$tmp/venv" install -q --target "$tmp/uv" "uv==$UV_VERSION" \
      && "$tmp/uv/bin/uv" --version >/dev/null; then
      mv -T "$tmp/uv" "$dir" 2>/dev/null || true  # a checkout beside this one may have been quicker
    fi
    rm -rf "$tmp"
  fi
  if [ -x "$dir/bin/uv" ]; then UV="$dir/bin/uv"; else note "uv could not be installed: pip instead"; fi
}
pip_quiet_in() { local venv=$1; shift; VENV=$venv pip_quiet "$@"; }

# uv_install ARGS...: uv pip install into the venv. It does not read pip's configuration files: the
# index settings of pip's environment variables are handed over. The wheels it builds from source
# distributions are kept in WHEELS, which every install looks in first: uv's own cache does not keep
# them where the index's answers cannot be cached.
uv_install() {
  local -x UV_INDEX_URL=${UV_INDEX_URL:-${PIP_INDEX_URL:-}} UV_EXTRA_INDEX_URL=${UV_EXTRA_INDEX_URL:-${PIP_EXTRA_INDEX_URL:-}}
  [ -n "$UV_INDEX_URL" ] || unset UV_INDEX_URL
  [ -n "$UV_EXTRA_INDEX_URL" ] || unset UV_EXTRA_INDEX_URL
  local links=(--find-links "$WHEELS") link
  for link in ${PIP_FIND_LINKS:-}; do links+=(--find-links "$link"); done
  "$UV" pip install -q --python "$VENV/bin/python" "${links[@]}" "$@" || return
  local whl name
  # uv's layout of its cache (pinned by UV_VERSION): the wheels built from an index's source distributions
  while IFS= read -r whl; do
    name=$(basename "$whl")
    if [ ! -f "$WHEELS/$name" ]; then cp "$whl" "$WHEELS/.$name.$$" && mv "$WHEELS/.$name.$$" "$WHEELS/$name"; fi
  done < <(find "$UV_CACHE_DIR"/sdists-v*/pypi "$UV_CACHE_DIR"/sdists-v*/index -name '*.whl' 2>/dev/null)
}

ensure_packages() {
  local missing=()
  [ -x "$PGBIN/initdb" ] || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  # the browser tests (tests/browser/) drive the distribution's chromium: Playwright downloads none
  [ -x "${HEDGEHOG_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
  # git repositories (docs/git.md): the tests serve repositories with git http-backend, the demo makes one
  command -v git >/dev/null || missing+=(git)
  [ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)  # legible screenshots
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} from the distribution"
    command -v apt-get >/dev/null || die "please install: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# The venv is made again when PYTHON names another Python version than its own, and installed
# again when NetBox's version or a pyproject.toml changed.
ensure_venv() {
  local stamp="$VENV/.hedgehog-stamp" want py
  if [ -x "$VENV/bin/python" ] && python_version "$VENV/bin/python" >/dev/null 2>&1 \
    && { [ -z "${PYTHON:-}" ] || [ "$(python_version "$(pick_python)")" = "$(python_version "$VENV/bin/python")" ]; }; then
    py="$VENV/bin/python"
  else
    rm -rf "$VENV"
    py=$(pick_python)
  fi
  set_cache_key "$py"
  want=$( (echo "$NETBOX_VERSION"; cat "$ROOT/pyproject.toml" "$ROOT/emulator/pyproject.toml") | sha1sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  ensure_uv "$py"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating the virtual environment with $py${UV:+ (uv)}"
    if [ -n "$UV" ]; then "$UV" venv -q --seed --python "$py" "$VENV"; else "$py" -m venv "$VENV"; fi
  fi
  # The emulator (emulator/, test support and the demo cluster) is a package of its own: the
  # plugin's wheel never carries it.
  if [ -n "$UV" ]; then
    log "installing NetBox $NETBOX_VERSION, the plugin and the Kubernetes emulator (editable) with uv"
    if ! uv_install "netbox==$NETBOX_VERSION" -e "$ROOT[dev]" -e "$ROOT/emulator"; then
      note "uv failed: pip instead"
      UV=
    fi
  fi
  if [ -z "$UV" ]; then
    "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || "$VENV/bin/python" -m ensurepip -q
    log "installing NetBox $NETBOX_VERSION with pip"
    pip_quiet install -q --find-links "$WHEELS" "netbox==$NETBOX_VERSION"
    log "installing the plugin and the Kubernetes emulator (editable) with pip"
    pip_quiet install -q -e "$ROOT[dev]" -e "$ROOT/emulator"
  fi
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

# NetBox's own ~340 migrations take 5 to 15 minutes of CPU: every database (the instance's, the test
# database) starts from their result, recorded in the repository for NETBOX_VERSION (RECORDED_CORE),
# or, for a version not recorded, made once per machine and kept as a dump in the cache (CORE_DUMP).
# The plugin's migrations take another 30 s: the instance's database, just migrated, is kept as a
# second dump (MIGRATED_DUMP, named by the migrations' content), from which a new checkout's
# databases start with nothing left to migrate.
restore_dump() {
  local db=$1 dump=$2
  psql_admin -c "create database $db owner netbox"
  # read by this shell: the postgres user need not reach HEDGEHOG_CACHE
  pg "$PGBIN/pg_restore" -h "$PGSOCK" -p "$PG_PORT" -U postgres --no-owner --role=netbox -d "$db" < "$dump"
}
restore_core() {
  if [ -f "$RECORDED_CORE" ]; then restore_recorded "$1"; else restore_dump "$1" "$CORE_DUMP"; fi
}
# restore_recorded DB: DB created from the recorded core database (a plain SQL dump), as role netbox
restore_recorded() {
  psql_admin -c "create database $1 owner netbox"
  gzip -dc "$RECORDED_CORE" | pg "$PGBIN/psql" -h "$PGSOCK" -p "$PG_PORT" -U netbox -d "$1" -X -q \
    -v ON_ERROR_STOP=1 --single-transaction >/dev/null
}

# migrate_core DB: DB created afresh and migrated by NetBox's own migrations, without the plugin
migrate_core() {
  db_exists "$1" && psql_admin -c "drop database $1 with (force)"
  psql_admin -c "create database $1 owner netbox"
  (source "$DEV/env" && HEDGEHOG_DB_NAME=$1 HEDGEHOG_NO_PLUGIN=1 netbox migrate --no-input -v 0)
}

# plain_dump DB FILE: DB as plain SQL (what is recorded and what fingerprints compare)
plain_dump() {
  pg "$PGBIN/pg_dump" -h "$PGSOCK" -p "$PG_PORT" -U postgres --no-owner --no-privileges "$1" > "$2"
}

# save_dump DB FILE: DB dumped into FILE (written aside, then renamed: a checkout beside this one
# never reads half a dump)
save_dump() {
  pg "$PGBIN/pg_dump" -h "$PGSOCK" -p "$PG_PORT" -U postgres -Fc "$1" > "$2.tmp.$$"
  mv "$2.tmp.$$" "$2"
}

# The plugin's migrations as a key. Like the test database's stamp, it covers the migration files
# only, not code of the plugin that a migration would import.
migrations_key() { cat "$ROOT"/netbox_hedgehog/migrations/*.py | sha1sum | cut -c1-16; }

set_migrated_dump() {
  MIGRATED_DUMP="$KEYED/migrated-$(migrations_key).dump"
  # a dump of migrations that no checkout used for a month is dropped
  find "$KEYED" -maxdepth 1 -name 'migrated-*.dump' -mtime +30 -delete 2>/dev/null || true
  if [ -f "$MIGRATED_DUMP" ]; then touch "$MIGRATED_DUMP"; fi
}

ensure_core_dump() {
  if [ -f "$RECORDED_CORE" ] || [ -f "$CORE_DUMP" ]; then return; fi
  log "running NetBox's own migrations once (NetBox $NETBOX_VERSION's database is not recorded in scripts/netbox-core/; 5-15 minutes; cached in $KEYED)"
  migrate_core netbox_core
  save_dump netbox_core "$CORE_DUMP"
  psql_admin -c "drop database netbox_core"
  note "record it for every checkout: scripts/dev.sh netbox-core record (then commit $RECORDED_CORE)"
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
  set_migrated_dump
  local fresh=
  if ! db_exists netbox; then
    if [ -f "$MIGRATED_DUMP" ]; then
      log "creating the NetBox database, migrated (from $MIGRATED_DUMP)"
      restore_dump netbox "$MIGRATED_DUMP"
      echo "$NETBOX_VERSION" > "$DEV/netbox.migrated"
    else
      log "creating the NetBox database from $([ -f "$RECORDED_CORE" ] && echo "NetBox's recorded core database" || echo "the core dump")"
      restore_core netbox
      fresh=1
    fi
  fi
  # `migrate` takes 15-30 s even with nothing to do: run it only when NetBox's version changed or a
  # migration of the plugin is not recorded as applied (migrate applies nothing else).
  if [ "$(cat "$DEV/netbox.migrated" 2>/dev/null)" != "$NETBOX_VERSION" ] || ! plugin_migrated; then
    log "applying the plugin's migrations"
    nb migrate --no-input -v 0
    if [ -n "$fresh" ]; then
      log "keeping the migrated database in $MIGRATED_DUMP"
      save_dump netbox "$MIGRATED_DUMP"
    fi
  fi
  echo "$NETBOX_VERSION" > "$DEV/netbox.migrated"
  # The test database starts from the migrated dump, or from the core dump, and then pytest
  # --reuse-db applies the plugin's migrations. It is rebuilt whenever the plugin's migrations change.
  local mig; mig=$(migrations_key)
  local testdb=${HEDGEHOG_TEST_DB:-test_netbox}
  if [ "$(cat "$DEV/$testdb.stamp" 2>/dev/null)" != "$mig" ] || ! db_exists "$testdb"; then
    db_exists "$testdb" && psql_admin -c "drop database $testdb with (force)"
    if [ -f "$MIGRATED_DUMP" ]; then
      log "creating the test database $testdb, migrated"
      restore_dump "$testdb" "$MIGRATED_DUMP"
    else
      log "creating the test database $testdb from the core dump"
      restore_core "$testdb"
    fi
    echo "$mig" > "$DEV/$testdb.stamp"
  fi
}

# A venv just installed holds no bytecode: every process would compile the ~2,300 modules a NetBox
# start imports (~4 s of CPU), the processes `make up` starts at once each the same modules, and
# under PYTHONDONTWRITEBYTECODE=1 (which stops writing bytecode, not reading it) every process of
# every command again. One process imports them once, writing their bytecode (what uv's
# --compile-bytecode does for all 9,000 modules of the venv, in a fraction of the time): Django set
# up, the URL configuration (every view, the REST API, the GraphQL schema), the commands that
# `make up` and `make demo` run, and the plugin's modules that talk to Kubernetes.
ensure_bytecode() {
  local stamp="$VENV/.hedgehog-bytecode-stamp" want
  want=$(cat "$VENV/.hedgehog-stamp")
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return; fi
  log "compiling the bytecode of what NetBox imports"
  (source "$DEV/env" && env -u PYTHONDONTWRITEBYTECODE python -c '
import django
django.setup()
from django.core.management import load_command_class
from django.urls import get_resolver
get_resolver().url_patterns
for app, name in [("django.contrib.staticfiles", "runserver"), ("django_rq", "rqworker"), ("django.core", "migrate"),
                  ("netbox_hedgehog", "hedgehog_watch"), ("netbox_hedgehog", "hedgehog_demo"),
                  ("netbox_hedgehog", "hedgehog_install_scripts")]:
    load_command_class(app, name)
import netbox_hedgehog.kube.client, netbox_hedgehog.services.reconcile, netbox_hedgehog.services.sync, rq.worker
')
  echo "$want" > "$stamp"
}

# Everything but the databases: packages, venv, configuration, PostgreSQL and Redis running.
prepare() {
  ensure_packages
  ensure_venv
  ensure_config
  ensure_bytecode
  start_postgres
  start_redis
}

cmd_setup() {
  prepare
  ensure_databases
  note "environment ready: source .dev/env to use 'netbox <command>'"
}

# compare_core A B: the fingerprints of databases A and B (scripts/netbox_core.py) compared; fails
# and prints their differences when they differ.
compare_core() {
  local dir="$DEV/netbox-core"
  mkdir -p "$dir"
  plain_dump "$1" "$dir/$1.sql"
  plain_dump "$2" "$dir/$2.sql"
  "$VENV/bin/python" "$ROOT/scripts/netbox_core.py" compare "$dir/$1.sql" "$dir/$2.sql"
}

cmd_netbox_core() {
  case "${1:-}" in record|verify) ;; *) die "usage: $0 netbox-core record|verify" ;; esac
  prepare
  log "running NetBox $NETBOX_VERSION's own migrations into a fresh database (5-15 minutes)"
  migrate_core netbox_core_migrated
  if [ "$1" = record ]; then
    log "recording it in $RECORDED_CORE"
    mkdir -p "$(dirname "$RECORDED_CORE")"
    plain_dump netbox_core_migrated "$DEV/netbox-core.sql"
    "$VENV/bin/python" "$ROOT/scripts/netbox_core.py" clean < "$DEV/netbox-core.sql" | gzip -9n > "$RECORDED_CORE.tmp"
    mv "$RECORDED_CORE.tmp" "$RECORDED_CORE"
    rm -f "$DEV/netbox-core.sql"
  fi
  log "comparing the migrated database with the recorded one, restored"
  db_exists netbox_core_recorded && psql_admin -c "drop database netbox_core_recorded with (force)"
  [ -f "$RECORDED_CORE" ] || die "no recorded database $RECORDED_CORE: scripts/dev.sh netbox-core record"
  restore_recorded netbox_core_recorded
  compare_core netbox_core_recorded netbox_core_migrated \
    || die "NetBox's migrations give another database than $RECORDED_CORE (differences above; dumps in .dev/netbox-core/)"
  psql_admin -c "drop database netbox_core_migrated"
  psql_admin -c "drop database netbox_core_recorded"
  rm -rf "$DEV/netbox-core"
  note "NetBox's migrations give the recorded database"
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

# start_all: setup, then NetBox, the worker and scripts/up.d/*.sh started (not waited for). No static
# files are collected: `runserver --insecure` serves them from the installed packages (Django's
# staticfiles finders), and NetBox would collect them into NETBOX_ROOT/static (/opt/netbox/static by
# default, whatever the configuration says), a directory every checkout of the machine shares.
start_all() {
  cmd_setup
  if ! running "$DEV/run/netbox.pid"; then
    log "starting NetBox on http://127.0.0.1:$NETBOX_PORT"
    (source "$DEV/env"; start_bg netbox netbox runserver --noreload --insecure "127.0.0.1:$NETBOX_PORT")
  fi
  if ! running "$DEV/run/worker.pid"; then
    log "starting the RQ worker"
    (source "$DEV/env"; start_bg worker netbox rqworker high default low)
  fi
  for extra in "$ROOT"/scripts/up.d/*.sh; do [ -f "$extra" ] && source "$extra"; done
}

wait_for_netbox() {
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

# The demo's git repository (docs/git.md): the demo cluster's Hedgehog objects as manifests, one file
# per kind, in fabrics/demo-gitops/ of a local bare repository (made once; edit it to see drift).
DEMO_GIT="$DEV/git/demo-fabrics.git"
make_demo_git() {
  [ -d "$DEMO_GIT" ] && return
  local work="$DEV/git/demo-fabrics-work"
  rm -rf "$work" && mkdir -p "$work/fabrics/demo-gitops"
  (source "$DEV/env" && cd "$ROOT" && python - "$work/fabrics/demo-gitops" <<'PY'
import sys
from pathlib import Path

import yaml

from hedgehog_kube_emulator import demo_fabric_yaml
from netbox_hedgehog.state.kinds import MANAGED

managed, by_kind = {k.kind for k in MANAGED}, {}
for doc in yaml.safe_load_all(demo_fabric_yaml()):
    if doc and doc["kind"] in managed:
        meta = {"name": doc["metadata"]["name"], **({"labels": doc["metadata"]["labels"]} if doc["metadata"].get("labels") else {})}
        spec = doc.get("spec") or {}
        if doc["kind"] == "VPCAttachment" and "/" not in spec.get("subnet", "/"):
            spec["subnet"] += "/default"  # as the cluster's defaulting webhook stores it
        by_kind.setdefault(doc["kind"], []).append({"apiVersion": doc["apiVersion"], "kind": doc["kind"], "metadata": meta, "spec": spec})
for kind, docs in by_kind.items():
    (Path(sys.argv[1]) / f"{kind.lower()}s.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
PY
  )
  git -C "$work" init -q -b main
  git -C "$work" add -A
  git -C "$work" -c user.name="make demo" -c user.email=demo@localhost commit -qm "The demo fabric's manifests"
  git clone -q --bare "$work" "$DEMO_GIT"
  git -C "$work" remote add origin "$DEMO_GIT"
}

cmd_up() {
  start_all
  wait_for_netbox
}

# The demo's data is made while NetBox starts (the commands need the database and the worker, not
# the server). The scripts are installed meanwhile: hedgehog_demo spends most of its time waiting
# for the worker to connect the demo-cluster fabric. hedgehog_demo with --cluster-kubeconfig hands
# a restarted demo cluster's kubeconfig to that fabric itself (DEMO_CONFIGURES_CLUSTER: up.d's
# cluster.sh does not).
cmd_demo() {
  DEMO_CONFIGURES_CLUSTER=1
  start_all
  log "creating the admin user, its API token and the example fabrics; installing the plugin's scripts"
  nb hedgehog_install_scripts &
  local scripts=$!
  log "creating the demo's git repository ($DEMO_GIT)"
  make_demo_git
  nb hedgehog_demo --api-token-file "$DEV/api-token" --cluster-kubeconfig "$DEMO_KUBECONFIG" \
    --git-repository "file://$DEMO_GIT"
  wait "$scripts" || die "netbox hedgehog_install_scripts failed"
  wait_for_netbox
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
The planned fabric gitops-fabric is deployed by that cluster's Argo CD Application
argocd/gitops-fabric, which completes about ${DEMO_ARGOCD_AFTER:-90} s after NetBox first read it
(leaf-03 applies its configuration then): watch its Argo CD and Switch readiness panels, and Argo CD
activate it (docs/argocd.md).
The fabric demo-gitops takes its desired state from git: .dev/git/demo-fabrics.git (branch main,
fabrics/demo-gitops/). Edit a manifest in .dev/git/demo-fabrics-work, commit, \`git push origin main\`,
then press Sync on its page to see the drift.
Stop everything with: make down
MSG
}

cmd_lint() {
  log "lint (ruff)"
  (source "$DEV/env" && cd "$ROOT" && ruff check netbox_hedgehog emulator tests bench fuzz scripts && ruff format --check netbox_hedgehog emulator tests bench fuzz scripts)
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

# The chaos tests run in a pytest session of their own: its database lives in a PostgreSQL that the
# session starts for itself (the shared one must never stop under other tests) and that its tests
# stop and start; see tests/chaos/conftest.py.
cmd_chaos() {
  cmd_setup
  log "chaos tests"
  (source "$DEV/env" && cd "$ROOT" && pytest -p no:randomly tests/chaos "$@")
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
    set_migrated_dump
    if [ -f "$MIGRATED_DUMP" ]; then
      restore_dump fuzz_template "$MIGRATED_DUMP"
    else
      restore_core fuzz_template
      (source "$DEV/env" && HEDGEHOG_DB_NAME=fuzz_template netbox migrate --no-input -v 0)
    fi
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
  setup|up|down|demo|test|chaos|bench|fuzz|lint) c=$1; shift; "cmd_$c" "$@" ;;
  netbox-core) shift; cmd_netbox_core "$@" ;;
  config) mkdir -p "$DEV"; ensure_config ;;  # the configuration and secret files only (needs the venv)
  *) die "usage: $0 setup|up|down|demo|test|chaos|bench|fuzz|lint|netbox-core|config" ;;
esac
