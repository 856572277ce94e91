#!/usr/bin/env bash
# Stop the real Sentry 23.7.1 test peer started by up.sh: the web server (its process group), Redis and
# PostgreSQL, each by the PID it recorded. The cache in .real-sentry/ stays for the next up.sh.
set -euo pipefail
# shellcheck source=tests/real_sentry/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_pidfile() {
  local name="$1" pidfile="$2" group="$3" pid
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    return 0
  fi
  pid="$(cat "$pidfile")"
  log "stopping $name (pid $pid)"
  if [[ $group == yes ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  else
    kill -TERM "$pid"
  fi
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within 20 s: killing it"
    if [[ $group == yes ]]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

stop_pidfile "sentry web" "$REAL_SENTRY_RUN/web.pid" yes
stop_pidfile "redis" "$REAL_SENTRY_RUN/redis.pid" no
if [[ -f $REAL_SENTRY_PGDIR/data/postmaster.pid ]] && bindir="$(pg_bindir)"; then
  log "stopping PostgreSQL (pid $(head -n1 "$REAL_SENTRY_PGDIR/data/postmaster.pid"))"
  as_pg "$bindir/pg_ctl" -D "$REAL_SENTRY_PGDIR/data" -m fast -w -t 60 stop >/dev/null
fi
log "stopped"
