#!/usr/bin/env bash
# `make unit`: the unit, module, double, contract and template suites on UNIT_WORKERS pytest-xdist
# workers (default 2: this project's machines have 2 cores; --dist loadfile keeps each test file on
# one worker, so a file's module fixtures are built once). The real Sentry 23.7.1 peer is started
# once beforehand and shared by the workers (REAL_SENTRY_KEEP=1); it is stopped afterwards when
# this script started it. REAL_SENTRY=0 skips the real-Sentry tests (locally only; CI runs them).
#
#   tests/run_unit.sh [pytest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/real_sentry/lib.sh
source tests/real_sentry/lib.sh
export PATH="$PWD/.venv/bin:$PATH"

started=0
if [[ ${REAL_SENTRY:-1} != 0 ]] && ! curl -fsS -o /dev/null --max-time 3 "$REAL_SENTRY_URL/_health/" 2>/dev/null; then
  tests/real_sentry/up.sh >/dev/null
  started=1
fi
rc=0
REAL_SENTRY_KEEP=1 pytest -n "${UNIT_WORKERS:-2}" --dist loadfile "$@" || rc=$?
if ((started)); then tests/real_sentry/down.sh >/dev/null 2>&1 || true; fi
exit "$rc"
