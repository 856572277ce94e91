# shellcheck shell=bash
# The variables below are read by up.sh and down.sh, which source this file.
# shellcheck disable=SC2034
# Shared settings for up.sh / down.sh: where the real Sentry 23.7.1 test peer lives and listens.
# Everything is cached in the gitignored .real-sentry/ of the checkout; every port is loopback-only
# and overridable from the environment.

REAL_SENTRY_VERSION="23.7.1"
REAL_SENTRY_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REAL_SENTRY_REPO="$(cd "$REAL_SENTRY_SRC/../.." && pwd)"
REAL_SENTRY_HOME="${REAL_SENTRY_HOME:-$REAL_SENTRY_REPO/.real-sentry}"

# Fixed, non-default ports (Sentry 9000, PostgreSQL 5432, Redis 6379 stay free for the real things).
REAL_SENTRY_WEB_PORT="${REAL_SENTRY_WEB_PORT:-19231}"
REAL_SENTRY_PG_PORT="${REAL_SENTRY_PG_PORT:-15433}"
REAL_SENTRY_REDIS_PORT="${REAL_SENTRY_REDIS_PORT:-16380}"
REAL_SENTRY_URL="http://127.0.0.1:${REAL_SENTRY_WEB_PORT}"

REAL_SENTRY_VENV="$REAL_SENTRY_HOME/venv"
REAL_SENTRY_CONF="$REAL_SENTRY_HOME/conf"
# The PostgreSQL cluster; see choose_pgdir in up.sh for when it lives outside the checkout.
REAL_SENTRY_PGDIR="$REAL_SENTRY_HOME/pg"
if [[ -s $REAL_SENTRY_HOME/pgdir ]]; then REAL_SENTRY_PGDIR="$(cat "$REAL_SENTRY_HOME/pgdir")"; fi
REAL_SENTRY_REDISDIR="$REAL_SENTRY_HOME/redis"
REAL_SENTRY_RUN="$REAL_SENTRY_HOME/run"
REAL_SENTRY_LOGS="$REAL_SENTRY_HOME/logs"
REAL_SENTRY_TOKEN_FILE="$REAL_SENTRY_HOME/token"
REAL_SENTRY_ADMIN_EMAIL="admin@dermai.test"

# Stamps: written only after the step they vouch for succeeded, so a half-built cache is detected.
REAL_SENTRY_VENV_STAMP="$REAL_SENTRY_VENV/.dermai-build-ok"
REAL_SENTRY_DB_STAMP="$REAL_SENTRY_PGDIR/.dermai-upgrade-ok"

log() { printf 'real-sentry: %s\n' "$*" >&2; }
die() {
  printf 'real-sentry: ERROR: %s\n' "$*" >&2
  exit 1
}

# PostgreSQL and initdb refuse to run as root: use an unprivileged account then.
pg_user() {
  if [[ $(id -u) -ne 0 ]]; then
    id -un
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    echo nobody
  fi
}

as_pg() {
  local user
  user="$(pg_user)"
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}

pg_bindir() {
  local d
  if [[ -n ${REAL_SENTRY_PG_BINDIR:-} ]]; then
    [[ -x $REAL_SENTRY_PG_BINDIR/initdb && -x $REAL_SENTRY_PG_BINDIR/pg_ctl ]] || return 1
    echo "$REAL_SENTRY_PG_BINDIR"
    return
  fi
  # Debian 12's PostgreSQL 15 first, else whichever server version is installed.
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
      echo "$d"
      return
    fi
  done
  return 1
}

# Is the process in this pid file alive?
pid_alive() {
  local f="$1" pid
  [[ -s $f ]] || return 1
  pid="$(cat "$f")"
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

web_healthy() {
  curl -fsS --max-time 5 -o /dev/null "$REAL_SENTRY_URL/_health/" 2>/dev/null
}
