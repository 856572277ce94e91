#!/usr/bin/env bash
# Build (once, cached in .real-sentry/) and start a real Sentry 23.7.1 web server with its REST API on
# 127.0.0.1, backed by a private PostgreSQL cluster and a private Redis. Prints two lines on stdout:
#   REAL_SENTRY_URL=http://127.0.0.1:<port>
#   REAL_SENTRY_TOKEN_FILE=<path>   (mode 0600; the token itself is never printed)
# Idempotent: when everything already runs it only prints those lines.
# Environment: REAL_SENTRY_WEB_PORT (19231), REAL_SENTRY_PG_PORT (15433), REAL_SENTRY_REDIS_PORT (16380),
# REAL_SENTRY_PYTHON (a Python 3.8 interpreter), REAL_SENTRY_PG_BINDIR, REAL_SENTRY_HOME (.real-sentry).
# Progress and errors go to stderr; service logs to .real-sentry/logs/.
set -euo pipefail
# shellcheck source=tests/real_sentry/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

print_endpoint() {
  echo "REAL_SENTRY_URL=$REAL_SENTRY_URL"
  echo "REAL_SENTRY_TOKEN_FILE=$REAL_SENTRY_TOKEN_FILE"
}

find_python38() {
  local c root
  if [[ -n ${REAL_SENTRY_PYTHON:-} ]]; then
    "$REAL_SENTRY_PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 8)' 2>/dev/null || return 1
    echo "$REAL_SENTRY_PYTHON"
    return
  fi
  root="${PYENV_ROOT:-$HOME/.pyenv}"
  for c in python3.8 "$root"/versions/3.8.*/bin/python3.8 /root/.pyenv/versions/3.8.*/bin/python3.8; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; assert sys.version_info[:2] == (3, 8)' 2>/dev/null; then
      command -v "$c"
      return
    fi
  done
  return 1
}

preflight_runtime() {
  local missing=()
  pg_bindir >/dev/null || missing+=("postgresql (initdb/pg_ctl under /usr/lib/postgresql/*/bin)")
  command -v redis-server >/dev/null || missing+=("redis-server")
  command -v curl >/dev/null || missing+=("curl")
  if [[ $(id -u) -eq 0 ]] && ! command -v runuser >/dev/null; then missing+=("runuser (util-linux)"); fi
  if ((${#missing[@]})); then
    die "missing system packages: ${missing[*]}. Install them (Debian: apt-get install postgresql redis-server curl)."
  fi
}

preflight_build() {
  local missing=() lib
  command -v pkg-config >/dev/null || missing+=("pkg-config")
  if command -v pkg-config >/dev/null; then
    for lib in xmlsec1 libxml-2.0; do
      pkg-config --exists "$lib" || missing+=("$lib development files")
    done
  fi
  if ((${#missing[@]})); then
    die "cannot build Sentry $REAL_SENTRY_VERSION: missing ${missing[*]}." \
      "Install them (Debian: apt-get install libxmlsec1-dev libxml2-dev pkg-config)."
  fi
}

venv_intact() {
  [[ -f $REAL_SENTRY_VENV_STAMP && -x $REAL_SENTRY_VENV/bin/sentry ]] &&
    [[ $(cat "$REAL_SENTRY_VENV_STAMP") == "sentry==$REAL_SENTRY_VERSION" ]]
}

build_venv() {
  local py started
  venv_intact && return 0
  preflight_build
  py="$(find_python38)" || die "Python 3.8 not found (Sentry $REAL_SENTRY_VERSION ships a py38 wheel only)." \
    "Install it (pyenv install 3.8.18) or point REAL_SENTRY_PYTHON at a python3.8 interpreter."
  log "building a Python 3.8 venv with sentry==$REAL_SENTRY_VERSION ($py); about 2 minutes, log: $REAL_SENTRY_LOGS/pip.log"
  started=$SECONDS
  rm -rf "$REAL_SENTRY_VENV"
  "$py" -m venv "$REAL_SENTRY_VENV"
  # 23.7.1 is yanked on PyPI: only the exact pin installs it. Its metadata may trip newer pips'
  # Requires-Python check, hence the retry with --ignore-requires-python.
  if ! "$REAL_SENTRY_VENV/bin/pip" install --disable-pip-version-check --no-input \
    "sentry==$REAL_SENTRY_VERSION" >"$REAL_SENTRY_LOGS/pip.log" 2>&1; then
    log "pip refused; retrying with --ignore-requires-python"
    "$REAL_SENTRY_VENV/bin/pip" install --disable-pip-version-check --no-input --ignore-requires-python \
      "sentry==$REAL_SENTRY_VERSION" >>"$REAL_SENTRY_LOGS/pip.log" 2>&1 ||
      die "pip install sentry==$REAL_SENTRY_VERSION failed; see $REAL_SENTRY_LOGS/pip.log"
  fi
  echo "sentry==$REAL_SENTRY_VERSION" >"$REAL_SENTRY_VENV_STAMP"
  log "venv ready in $((SECONDS - started)) s"
}

render_config() {
  local secret_file="$REAL_SENTRY_HOME/secret-key" secret
  mkdir -p "$REAL_SENTRY_CONF" "$REAL_SENTRY_HOME/files"
  chmod 0700 "$REAL_SENTRY_CONF"
  if [[ ! -s $secret_file ]]; then
    (
      umask 077
      head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret_file"
    )
  fi
  secret="$(cat "$secret_file")"
  sed -e "s|@PG_PORT@|$REAL_SENTRY_PG_PORT|g" -e "s|@REDIS_PORT@|$REAL_SENTRY_REDIS_PORT|g" \
    -e "s|@WEB_PORT@|$REAL_SENTRY_WEB_PORT|g" \
    "$REAL_SENTRY_SRC/sentry.conf.py.in" >"$REAL_SENTRY_CONF/sentry.conf.py"
  (
    umask 077
    sed -e "s|@URL@|$REAL_SENTRY_URL|g" -e "s|@ADMIN_EMAIL@|$REAL_SENTRY_ADMIN_EMAIL|g" \
      -e "s|@SECRET_KEY@|$secret|g" -e "s|@FILES_DIR@|$REAL_SENTRY_HOME/files|g" \
      "$REAL_SENTRY_SRC/config.yml.in" >"$REAL_SENTRY_CONF/config.yml.new"
  )
  mv "$REAL_SENTRY_CONF/config.yml.new" "$REAL_SENTRY_CONF/config.yml"
}

sentry_cmd() {
  SENTRY_CONF="$REAL_SENTRY_CONF" "$REAL_SENTRY_VENV/bin/sentry" "$@"
}

# As root the cluster belongs to an unprivileged user, who must be able to reach it. When the checkout is
# not reachable for that user (e.g. a clone under /root, mode 0700), the cluster lives in /var/tmp instead,
# one per checkout, and .real-sentry/pgdir records where.
choose_pgdir() {
  local user
  [[ $(id -u) -eq 0 && ! -s $REAL_SENTRY_HOME/pgdir ]] || return 0
  user="$(pg_user)"
  runuser -u "$user" -- test -x "$REAL_SENTRY_HOME" && return 0
  REAL_SENTRY_PGDIR="/var/tmp/dermai-real-sentry-$(printf %s "$REAL_SENTRY_HOME" | sha256sum | cut -c1-12)/pg"
  REAL_SENTRY_DB_STAMP="$REAL_SENTRY_PGDIR/.dermai-upgrade-ok"
  log "$user cannot reach $REAL_SENTRY_HOME: the PostgreSQL cluster goes to $REAL_SENTRY_PGDIR"
  mkdir -p "$(dirname "$REAL_SENTRY_PGDIR")"
  echo "$REAL_SENTRY_PGDIR" >"$REAL_SENTRY_HOME/pgdir"
}

start_postgres() {
  local bindir user data="$REAL_SENTRY_PGDIR/data"
  bindir="$(pg_bindir)"
  user="$(pg_user)"
  if [[ ! -f $REAL_SENTRY_DB_STAMP && -e $REAL_SENTRY_PGDIR ]]; then
    log "found a half-built database cluster (no upgrade stamp): rebuilding it"
    stop_postgres_quiet
    rm -rf "$REAL_SENTRY_PGDIR"
  fi
  mkdir -p "$REAL_SENTRY_PGDIR"
  if [[ $(id -u) -eq 0 ]]; then chown "$user" "$REAL_SENTRY_PGDIR"; fi
  if [[ ! -f $data/PG_VERSION ]]; then
    log "initdb: private PostgreSQL cluster in $data (as $user)"
    as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$REAL_SENTRY_LOGS/initdb.log" 2>&1 || die "initdb failed; see $REAL_SENTRY_LOGS/initdb.log"
  fi
  if as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    return 0
  fi
  log "starting PostgreSQL on 127.0.0.1:$REAL_SENTRY_PG_PORT"
  as_pg "$bindir/pg_ctl" -D "$data" -w -t 60 -l "$REAL_SENTRY_PGDIR/postgres.log" \
    -o "-c listen_addresses=127.0.0.1 -p $REAL_SENTRY_PG_PORT -c unix_socket_directories='' -c fsync=off" start \
    >/dev/null 9>&- || die "PostgreSQL did not start; see $REAL_SENTRY_PGDIR/postgres.log"
}

stop_postgres_quiet() {
  local bindir
  bindir="$(pg_bindir)" || return 0
  if [[ -f $REAL_SENTRY_PGDIR/data/postmaster.pid ]]; then
    as_pg "$bindir/pg_ctl" -D "$REAL_SENTRY_PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

start_redis() {
  local pidfile="$REAL_SENTRY_RUN/redis.pid"
  pid_alive "$pidfile" && return 0
  mkdir -p "$REAL_SENTRY_REDISDIR"
  log "starting Redis on 127.0.0.1:$REAL_SENTRY_REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REAL_SENTRY_REDIS_PORT" --daemonize yes \
    --pidfile "$pidfile" --dir "$REAL_SENTRY_REDISDIR" --logfile "$REAL_SENTRY_LOGS/redis.log" \
    --save "" --appendonly no --protected-mode yes >/dev/null 9>&- ||
    die "redis-server did not start; see $REAL_SENTRY_LOGS/redis.log"
  for _ in $(seq 50); do
    pid_alive "$pidfile" && return 0
    sleep 0.1
  done
  die "redis-server did not write $pidfile; see $REAL_SENTRY_LOGS/redis.log"
}

upgrade_db() {
  local bindir started
  [[ -f $REAL_SENTRY_DB_STAMP ]] && return 0
  bindir="$(pg_bindir)"
  "$bindir/createdb" -h 127.0.0.1 -p "$REAL_SENTRY_PG_PORT" -U postgres sentry 2>/dev/null || true
  log "sentry upgrade (migrations, default organization 'sentry'); about 1.5 minutes, log: $REAL_SENTRY_LOGS/upgrade.log"
  started=$SECONDS
  sentry_cmd upgrade --noinput >"$REAL_SENTRY_LOGS/upgrade.log" 2>&1 ||
    die "sentry upgrade failed; see $REAL_SENTRY_LOGS/upgrade.log"
  sentry_cmd createuser --email "$REAL_SENTRY_ADMIN_EMAIL" --no-password --superuser --no-input \
    >"$REAL_SENTRY_LOGS/createuser.log" 2>&1 || die "sentry createuser failed; see $REAL_SENTRY_LOGS/createuser.log"
  rm -f "$REAL_SENTRY_TOKEN_FILE"
  mint_token
  touch "$REAL_SENTRY_DB_STAMP"
  log "database ready in $((SECONDS - started)) s"
}

mint_token() {
  # `sentry exec` reports a script's exception but exits 0: the token file is the proof of success.
  REAL_SENTRY_TOKEN_OUT="$REAL_SENTRY_TOKEN_FILE" REAL_SENTRY_ADMIN_EMAIL="$REAL_SENTRY_ADMIN_EMAIL" \
    sentry_cmd exec "$REAL_SENTRY_SRC/mint_token.py" >"$REAL_SENTRY_LOGS/mint-token.log" 2>&1 || true
  [[ -s $REAL_SENTRY_TOKEN_FILE ]] || die "minting the API token failed; see $REAL_SENTRY_LOGS/mint-token.log"
  chmod 0600 "$REAL_SENTRY_TOKEN_FILE"
}

start_web() {
  local pidfile="$REAL_SENTRY_RUN/web.pid" waited=0 timeout="${REAL_SENTRY_START_TIMEOUT:-180}"
  if ! pid_alive "$pidfile"; then
    if web_healthy; then
      die "port $REAL_SENTRY_WEB_PORT already answers but not from our server; set REAL_SENTRY_WEB_PORT"
    fi
    log "starting sentry web on $REAL_SENTRY_URL (log: $REAL_SENTRY_LOGS/web.log)"
    # Its own session so down.sh can stop the uWSGI master and workers as one process group.
    SENTRY_CONF="$REAL_SENTRY_CONF" REAL_SENTRY_MULTI_ORG=1 setsid "$REAL_SENTRY_VENV/bin/sentry" run web \
      --bind "127.0.0.1:$REAL_SENTRY_WEB_PORT" >>"$REAL_SENTRY_LOGS/web.log" 2>&1 </dev/null 9>&- &
    echo $! >"$pidfile"
  fi
  until web_healthy; do
    pid_alive "$pidfile" || die "sentry web exited; see $REAL_SENTRY_LOGS/web.log"
    ((waited < timeout)) || die "sentry web did not answer $REAL_SENTRY_URL/_health/ within ${timeout}s"
    sleep 1
    waited=$((waited + 1))
  done
}

main() {
  mkdir -p "$REAL_SENTRY_HOME" "$REAL_SENTRY_RUN" "$REAL_SENTRY_LOGS"
  # One up.sh at a time (parallel pytest sessions). The daemons started below close fd 9 (9>&-),
  # else they would hold the lock for their whole life.
  exec 9>"$REAL_SENTRY_HOME/.lock"
  flock 9
  if pid_alive "$REAL_SENTRY_RUN/web.pid" && [[ -s $REAL_SENTRY_TOKEN_FILE ]] && web_healthy; then
    print_endpoint
    return 0
  fi
  preflight_runtime
  local started=$SECONDS
  build_venv
  render_config
  choose_pgdir
  start_postgres
  start_redis
  upgrade_db
  [[ -s $REAL_SENTRY_TOKEN_FILE ]] || mint_token
  start_web
  log "Sentry $REAL_SENTRY_VERSION answers at $REAL_SENTRY_URL ($((SECONDS - started)) s)"
  print_endpoint
}

main "$@"
