#!/usr/bin/env bash
# README's two commands as a newcomer meets them: a clean clone, a fresh empty HOME, then
# `make deploy` (and `make test` with --test). Prints each command's exit code and wall time, and
# writes them to .artifacts/surface/fresh-clone.txt of this checkout.
#
#   tests/surface/fresh_clone.sh [--test] [--worktree] [--keep]
#
#   --test      also run `make test` in the clone (the full CI run: about an hour on 2 cores)
#   --worktree  copy this checkout's tracked and untracked, not ignored, files instead of cloning
#               HEAD (to check uncommitted work)
#   --keep      keep the clone and its VM afterwards (printed at the end)
#
# The clone gets its own VM: LOCAL_VM_NAME=${FRESH_VM_NAME:-dermai-vm-fresh},
# LOCAL_VM_PORT_OFFSET=${FRESH_VM_PORT_OFFSET:-4000}. REAL_SENTRY_URL / REAL_SENTRY_TOKEN_FILE, when
# set, are passed on (the real-Sentry tests then reuse that server instead of building their own).
# Not run by `make test`: CI's `make test` on its fresh clone already is that check for `make test`,
# and a second full e2e would double CI's time. Run it before a release.
set -euo pipefail
cd "$(dirname "$0")/../.."
origin=$PWD

run_test=0 worktree=0 keep=0
for arg in "$@"; do
  case $arg in
    --test) run_test=1 ;;
    --worktree) worktree=1 ;;
    --keep) keep=1 ;;
    *) echo "usage: $0 [--test] [--worktree] [--keep]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d /var/tmp/dermai-fresh-clone.XXXXXX)
clone=$work/clone
export HOME=$work/home
mkdir -p "$HOME"
export LOCAL_VM_NAME=${FRESH_VM_NAME:-dermai-vm-fresh}
export LOCAL_VM_PORT_OFFSET=${FRESH_VM_PORT_OFFSET:-4000}
report=$origin/.artifacts/surface/fresh-clone.txt
mkdir -p "$(dirname "$report")"
: >"$report"

note() { printf 'fresh-clone: %s\n' "$*" | tee -a "$report"; }

cleanup() {
  if ((keep)); then
    note "kept: clone $clone, HOME $HOME, VM $LOCAL_VM_NAME (make -C $clone vm-destroy removes it)"
    return
  fi
  if [[ -x $clone/.venv/bin/ansible-playbook ]]; then
    (cd "$clone" && make --no-print-directory vm-destroy >/dev/null 2>&1) || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if ((worktree)); then
  mkdir -p "$clone"
  git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$clone/"
  git -C "$clone" init -q
  note "copied the working tree of $origin ($(git rev-parse --short HEAD) + uncommitted changes)"
else
  git clone --quiet "$origin" "$clone"
  note "cloned $origin at $(git -C "$clone" rev-parse --short HEAD)"
fi
note "HOME=$HOME (empty), LOCAL_VM_NAME=$LOCAL_VM_NAME, LOCAL_VM_PORT_OFFSET=$LOCAL_VM_PORT_OFFSET"

overall=0
timed() {
  local name=$1 log=$work/${1// /-}.log started rc=0
  shift
  started=$SECONDS
  (cd "$clone" && "$@") >"$log" 2>&1 || rc=$?
  note "$(printf '%-12s exit %3d  %5d s  (log: %s)' "$name" "$rc" $((SECONDS - started)) "$log")"
  if ((rc != 0)); then
    tail -n 40 "$log" | sed 's/^/  | /'
    overall=1
    keep=1
  fi
  return 0
}

timed "make deploy" make deploy
if ((run_test)); then
  timed "make test" make test
fi
((overall == 0)) && note "PASSED" || note "FAILED (clone kept for inspection)"
exit "$overall"
