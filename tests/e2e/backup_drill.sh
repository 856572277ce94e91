#!/usr/bin/env bash
# Backup and disaster-recovery drill on the local VM (run by tests/e2e/run.sh after the
# testinfra steps; runs alone on a converged VM too):
#
#   A. a real restic REST server, `rclone serve restic --append-only`, runs on THIS machine inside
#      the VM's network namespace (nsenter -n): it listens on the VM's own 127.0.0.1:21000, is
#      reachable from nothing else, and keeps the repository on this machine (it survives the VM)
#   B. prepare (a real PostgreSQL with rows, named volumes with known content), converge the
#      backup role twice (the second must report changed=0) and --check (changed=0)
#   C. a backup through the role's run.yml (the pre-upgrade interface) and the checksums
#   D. faults: wrong password (clear error, nothing deleted); the server down when a run starts
#      (the run fails visibly in the journal, the next one completes) and killed during one
#      (restic retries; the outage is in the journal; the next run completes);
#      a run interrupted by systemd (the stopped services come back); restic check passes
#   E. make verify's backup test on the VM
#   E2. the sftp (OpenSSH sshd) and s3 (moto) backends: converge, a run, read back, restic check;
#      then the REST repository again
#   F. disaster: destroy the VM, create a fresh one, `make restore` (timed: the RTO); the volume
#      checksums and the database rows must be identical; then a restore interrupted while it
#      writes the volumes, refused without CONFIRM=1 over the half-restored host, completed,
#      and identical again
#   G. no secret in any output, no world-readable secret file
#
# Environment: LOCAL_VM_NAME, LOCAL_VM_PORT_OFFSET (as for the VM), BACKUP_DRILL_PORT (21000),
# BACKUP_DRILL_ARTIFACTS (.artifacts/backup-drill-$LOCAL_VM_NAME), BACKUP_DRILL_SKIP_DR=1 (stop after E2),
# BACKUP_DRILL_QUICK=1 (iterating on a prepared VM: one converge, no fault steps D1-D4).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
# The environment tests/e2e/run.sh gives it, for a run on its own.
export PATH="$repo/.venv/bin:$PATH" ANSIBLE_CONFIG="$repo/ansible.cfg" ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 PY_COLORS=0
inventory=inventories/local
vm=${LOCAL_VM_NAME:-dermai-sentry-vm}
host=dermai-vm
port=${BACKUP_DRILL_PORT:-21000}
artifacts=${BACKUP_DRILL_ARTIFACTS:-.artifacts/backup-drill-$vm}
secrets=.local-vm/secrets
server_dir=$artifacts/server
rm -rf "$artifacts"
mkdir -p "$artifacts" "$server_dir" "$secrets"
chmod 0700 "$artifacts" "$secrets"

# ---- bookkeeping (as tests/e2e/run.sh) -----------------------------------------------
declare -a done_steps=()
step_name="" step_started=0 result_line=""
step() {
  step_name=$1 step_started=$SECONDS
  printf '\n======== backup drill: %s\n' "$step_name"
}
passed() { done_steps+=("$(printf '%-5s %4ss  %s' "${1:-ok}" $((SECONDS - step_started)) "$step_name")"); step_name=""; }
logged() {
  local log=$1
  shift
  printf '$ %s\n' "$*" | tee "$artifacts/$log"
  if ! "$@" >>"$artifacts/$log" 2>&1; then
    tail -n 60 "$artifacts/$log"
    echo "backup drill: the command failed; full log: $artifacts/$log"
    return 1
  fi
}
# Run a command that must FAIL; its output is kept for the assertions.
must_fail() {
  local log=$1
  shift
  printf '$ %s   (must fail)\n' "$*" | tee "$artifacts/$log"
  if "$@" >>"$artifacts/$log" 2>&1; then
    tail -n 40 "$artifacts/$log"
    echo "backup drill: this command was expected to fail"
    return 1
  fi
}
expect_in() {
  grep -q -- "$2" "$artifacts/$1" || { echo "backup drill: '$2' not in $artifacts/$1"; tail -n 30 "$artifacts/$1"; return 1; }
}
recap_changed() { awk '/^PLAY RECAP/ {r = 1; next} r && / : ok=/ {for (i = 3; i <= NF; i++) if ($i ~ /^changed=/) {split($i, kv, "="); c += kv[2]}} END {print c + 0}' "$artifacts/$1"; }

cleanup() {
  local rc=$?
  server_stop || true
  declare -F backends_stop >/dev/null && { backends_stop || true; }
  [[ -n $step_name ]] && done_steps+=("$(printf '%-5s %4ss  %s' FAIL $((SECONDS - step_started)) "$step_name")")
  printf '\n======== backup drill summary (%ss; logs in %s/)\n' "$SECONDS" "$artifacts"
  printf '  %s\n' "${done_steps[@]}"
  if ((rc == 0)); then
    echo "restore drill: PASSED ${result_line}"
  else
    echo "restore drill: FAILED (exit $rc)"
  fi
  printf '%s\n' "${done_steps[@]}" "restore drill: $( ((rc == 0)) && echo "PASSED $result_line" || echo FAILED)" >"$artifacts/summary.txt"
}
trap cleanup EXIT

vm_sh() { docker exec "$vm" bash -c "$1"; }

# ---- the repository server ------------------------------------------------------------
# Secrets the inventory's password lookups read (created here first so this script can hand the
# REST password to rclone as an htpasswd file, never in a command line).
for name in backup_password backup_rest_password; do
  if [[ ! -s $secrets/$name ]]; then
    (umask 077 && python3 -c 'import secrets, string; a = string.ascii_letters + string.digits; print("".join(secrets.choice(a) for _ in range(40)), end="")' >"$secrets/$name")
  fi
done
password=$(<"$secrets/backup_password")
rest_password=$(<"$secrets/backup_rest_password")
(umask 077 && printf 'dermai:%s\n' "$(openssl passwd -apr1 -stdin <<<"$rest_password")" >"$artifacts/htpasswd")

server_start() {
  local pid
  pid=$(docker inspect --format '{{.State.Pid}}' "$vm")
  nsenter --target "$pid" --net -- rclone serve restic --append-only --addr "127.0.0.1:$port" \
    --htpasswd "$artifacts/htpasswd" "$server_dir" >>"$artifacts/rclone.log" 2>&1 &
  echo $! >"$artifacts/rclone.pid"
  for _ in $(seq 50); do
    vm_sh "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "backup drill: rclone serve restic did not start (see $artifacts/rclone.log)"
  return 1
}
server_stop() {
  [[ -f $artifacts/rclone.pid ]] || return 0
  local pid
  pid=$(<"$artifacts/rclone.pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$artifacts/rclone.pid"
}
# The repository read from this machine directly (independent of the VM).
restic_here() { RESTIC_PASSWORD_FILE=$secrets/backup_password restic --no-cache -r "$server_dir/$host" "$@"; }
snapshot_count() { restic_here snapshots --no-lock --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin) or []))'; }

# The services a run stopped (here the API double, backup_stack_stop_command) were started again.
services_back() {
  vm_sh '! test -f /var/lib/dermai-backup/services-stopped' || { echo "backup drill: services-stopped flag left behind"; return 1; }
  [[ $(vm_sh 'systemctl show -p ActiveState --value sentry-double.service') != inactive ]] ||
    { echo "backup drill: the run left sentry-double.service stopped"; return 1; }
}

# Start a timer-like run without waiting, and return once it has stopped the services (the
# volume copy is under way).
start_run_until_services_stopped() {
  vm_sh 'systemctl start --no-block dermai-backup.service'
  for _ in $(seq 300); do vm_sh 'test -f /var/lib/dermai-backup/services-stopped' && break; sleep 0.1; done
  vm_sh 'test -f /var/lib/dermai-backup/services-stopped'
}

pb() { ansible-playbook -i "$inventory" "$@" -e backup_enabled=true; }

# Checksums of every volume (names, types, modes, owners, link targets, contents) and of the rows.
fingerprint() {
  vm_sh '
    set -euo pipefail
    for volume in sentry-data sentry-clickhouse sentry-seaweedfs sentry-self-hosted_sentry-symbolicator sentry-self-hosted_sentry-vroom; do
      dir=$(docker volume inspect --format "{{ .Mountpoint }}" "$volume")
      cd "$dir"
      meta=$(find . -printf "%p %y %m %U:%G %l\n" | LC_ALL=C sort | sha256sum | cut -c1-16)
      data=$(find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
      echo "volume $volume files=$(find . | wc -l) meta=$meta data=$data"
    done
    cd /
    for table in sentry_organization sentry_project sentry_projectkey; do
      rows=$(runuser -u postgres -- psql -At --dbname=sentry -c "SELECT count(*) FROM $table")
      sum=$(runuser -u postgres -- psql -At --dbname=sentry -c "SELECT * FROM $table ORDER BY id" | sha256sum | cut -c1-16)
      echo "table $table rows=$rows sha=$sum"
    done'
}

# ---- A/B. server, preparation, converge --------------------------------------------------
step "A. repository server (rclone serve restic --append-only in the VM's network namespace)"
docker inspect "$vm" >/dev/null
server_start
passed

step "B. prepare PostgreSQL and the volumes; converge the backup role (twice) and --check"
# BACKUP_DRILL_QUICK=1 (iterating on a VM the drill already prepared): one converge only.
[[ ${BACKUP_DRILL_QUICK:-0} == 1 ]] || logged b1-prepare.log pb tests/e2e/backup_prepare.yml
logged b2-converge.log pb tests/e2e/backup_converge.yml
if [[ ${BACKUP_DRILL_QUICK:-0} != 1 ]]; then
  logged b3-reconverge.log pb tests/e2e/backup_converge.yml
  [[ $(recap_changed b3-reconverge.log) == 0 ]] || { echo "backup drill: second converge changed=$(recap_changed b3-reconverge.log)"; exit 1; }
  logged b4-check.log pb tests/e2e/backup_converge.yml --check --diff
  [[ $(recap_changed b4-check.log) == 0 ]] || { echo "backup drill: --check changed=$(recap_changed b4-check.log)"; exit 1; }
fi
passed

# ---- C. a backup through run.yml ---------------------------------------------------------
step "C. backup through the role's run.yml (pre-upgrade interface)"
logged c1-run.log pb tests/e2e/backup_run.yml -e drill_reason=pre-upgrade-drill
expect_in c1-run.log 'BACKUP_SNAPSHOT {\\"id\\": \\"[0-9a-f]\{64\}'
fingerprint >"$artifacts/fingerprint-before.txt"
cat "$artifacts/fingerprint-before.txt"
restic_here snapshots --tag part=files >"$artifacts/c2-snapshots.txt"
grep -Eq 'release=[0-9]+\.[0-9]+\.[0-9]+' "$artifacts/c2-snapshots.txt" || { echo "backup drill: the snapshot has no release tag"; cat "$artifacts/c2-snapshots.txt"; exit 1; }
downtime=$(vm_sh 'python3 -c "import json; print(json.load(open(\"/var/lib/dermai-backup/last-success.json\"))[\"downtime_seconds\"])"')
echo "services stopped for ${downtime}s during the volume copy"
passed

# ---- D. faults ---------------------------------------------------------------------------
# BACKUP_DRILL_QUICK=1 (iterating): the fault steps D1-D4 are skipped too.
if [[ ${BACKUP_DRILL_QUICK:-0} != 1 ]]; then
step "D1. wrong repository password: clear error naming the variable, nothing deleted"
before=$(snapshot_count)
must_fail d1-wrong-password.log pb tests/e2e/backup_converge.yml -e backup_password=ThisIsNotThePassword-1234
expect_in d1-wrong-password.log 'backup_password does not open the repository'
logged d1b-right-password.log pb tests/e2e/backup_converge.yml
[[ $(snapshot_count) == "$before" ]] || { echo "backup drill: snapshots changed after a wrong password"; exit 1; }
passed

step "D2. server down when a run starts: the timer's unit fails visibly; the next run completes"
server_stop
must_fail d2-down.log vm_sh 'systemctl start dermai-backup.service'
vm_sh 'journalctl -u dermai-backup.service --no-pager -n 30' >"$artifacts/d2-journal.txt"
expect_in d2-journal.txt 'FAILED: the repository of backup_repository is unreachable'
vm_sh 'test -f /var/lib/dermai-backup/last-failure.json'
services_back
server_start
logged d2-next.log vm_sh 'systemctl start dermai-backup.service'
passed

step "D3. server killed during a run and back 10s later: restic retries, the outage is in the journal"
start_run_until_services_stopped
server_stop
sleep 10
server_start
for _ in $(seq 300); do
  state=$(vm_sh 'systemctl show -p ActiveState --value dermai-backup.service')
  [[ $state == failed || $state == inactive ]] && break
  sleep 1
done
[[ $state == failed || $state == inactive ]] || { echo "backup drill: the run did not end"; exit 1; }
vm_sh 'journalctl -u dermai-backup.service --no-pager -n 60' >"$artifacts/d3-journal.txt"
d3_result=$(vm_sh 'systemctl show -p Result --value dermai-backup.service')
echo "run with the server killed mid-way: $d3_result"
grep -Eq 'retrying|connection refused|FAILED' "$artifacts/d3-journal.txt" || { echo "backup drill: the outage left no trace in the journal"; exit 1; }
services_back
logged d3-next.log vm_sh 'systemctl start dermai-backup.service'
passed

step "D4. a run interrupted by systemd (stop): ExecStopPost starts the services; the next run completes"
start_run_until_services_stopped
vm_sh 'systemctl stop dermai-backup.service'
services_back
logged d4-next.log vm_sh 'systemctl start dermai-backup.service'
passed
fi

step "D5. restic check (read-data-subset) on the repository"
logged d5-check.log vm_sh 'systemctl start dermai-backup-check.service && cat /var/lib/dermai-backup/last-check.json'
expect_in d5-check.log '"ok": true'
logged d5-check-here.log restic_here check --read-data
passed

# ---- E. make verify's backup test -----------------------------------------------------
step "E. tests/verify/test_backup.py against the VM"
logged e1-verify.log pytest tests/verify/test_backup.py --inventory-dir "$inventory" -p no:cacheprovider -q
passed

fingerprint >"$artifacts/fingerprint-backed-up.txt"
diff "$artifacts/fingerprint-before.txt" "$artifacts/fingerprint-backed-up.txt"
latest=$(restic_here snapshots --json --tag part=files | python3 -c 'import json, sys; print(max(json.load(sys.stdin), key=lambda s: s["time"])["short_id"])')

# ---- E2. the sftp and s3 backends ----------------------------------------------------------
# The same role and script against the two other repository types, each served inside the VM's
# network namespace like the REST server: sftp by OpenSSH's sshd (internal-sftp, chrooted, key
# login only, the host key checked by the VM), s3 by moto's S3 server (PyPI; no S3 service is
# reachable here, and moto does not check the access keys' signatures). Each: converge (the
# repository is initialised), a timer-like run, the snapshots read back and `restic check
# --read-data`; then the inventory's REST repository again, with the other backends' credential
# files removed from the host.
sftp_port=$((port + 1)) s3_port=$((port + 2))
sftp_root=/var/lib/dermai-backup-drill-sftp/$vm
backend_pids=()
backends_stop() {
  local pid
  for pid in "${backend_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  backend_pids=()
  rm -rf "$sftp_root"
}
in_vm_net() { nsenter --target "$(docker inspect --format '{{.State.Pid}}' "$vm")" --net -- "$@"; }
wait_port() { for _ in $(seq 100); do vm_sh "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0; sleep 0.2; done; echo "backup drill: nothing listens on $1"; return 1; }
# A backend's run: converge with its variables, one run of the timer's unit, the snapshots of
# this run read back with their release tag, and the whole repository read and verified.
backend_run() {
  local name=$1 vars=$2
  shift 2
  # Only the phases a new repository touches (install and timers are the same for every backend).
  logged "e2-$name-converge.log" pb tests/e2e/backup_converge.yml -e "@$vars" --tags backup_preflight,backup_repository
  # The repository did not exist: the converge created it.
  awk '/^TASK \[backup : Initialise the repository\]/ {t = 1; next} t && /^(ok|changed|skipping|fatal)/ {print; exit}' \
    "$artifacts/e2-$name-converge.log" | grep -q '^changed' || { echo "backup drill: $name: the converge did not initialise the repository"; return 1; }
  logged "e2-$name-run.log" vm_sh 'systemctl start dermai-backup.service && cat /var/lib/dermai-backup/last-success.json'
  "$@" snapshots --json --tag part=files >"$artifacts/e2-$name-snapshots.json"
  python3 - "$artifacts/e2-$name-snapshots.json" <<'PY'
import json, re, sys
snapshots = json.load(open(sys.argv[1])) or []
assert len(snapshots) == 1, f"expected the run's one files snapshot, found {len(snapshots)}"
assert any(re.fullmatch(r"release=\d+\.\d+\.\d+", t) for t in snapshots[0]["tags"]), snapshots[0]["tags"]
PY
  logged "e2-$name-check.log" "$@" check --read-data
}
step "E2. sftp (OpenSSH sshd) and s3 (moto) repositories: converge, run, read back, check"
rm -rf "$artifacts/sftp" && mkdir -p /run/sshd "$artifacts/sftp"
sftp_conf=$(cd "$artifacts/sftp" && pwd)
rm -rf "$sftp_root" && mkdir -p "$sftp_root/repo" && chmod 0755 "$(dirname "$sftp_root")" "$sftp_root"
ssh-keygen -q -t ed25519 -N '' -C drill-sftp-host -f "$artifacts/sftp/host_key"
ssh-keygen -q -t ed25519 -N '' -C drill-sftp-client -f "$artifacts/sftp/client_key"
cat >"$artifacts/sftp/sshd_config" <<CFG
ListenAddress 127.0.0.1:$sftp_port
HostKey $sftp_conf/host_key
PidFile none
AuthorizedKeysFile $sftp_conf/client_key.pub
AuthenticationMethods publickey
PermitRootLogin prohibit-password
AllowUsers root
UsePAM no
StrictModes no
ChrootDirectory $sftp_root
ForceCommand internal-sftp
Subsystem sftp internal-sftp
AllowTcpForwarding no
X11Forwarding no
CFG
# (nsenter itself in the background, so that $! is the server's pid and backends_stop ends it)
vm_pid=$(docker inspect --format '{{.State.Pid}}' "$vm")
nsenter --target "$vm_pid" --net -- /usr/sbin/sshd -D -e -f "$sftp_conf/sshd_config" >>"$artifacts/sftp/sshd.log" 2>&1 &
backend_pids+=($!)
s3_key_id=$(python3 -c 'import secrets; print("AKIA" + secrets.token_hex(8).upper())')
s3_secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(30))')
nsenter --target "$vm_pid" --net -- "$repo/.venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >>"$artifacts/moto.log" 2>&1 &
backend_pids+=($!)
wait_port "$sftp_port"
wait_port "$s3_port"
# The variables an inventory's vault and group_vars would hold, in root-only files.
(
  umask 077
  S3_KEY_ID=$s3_key_id S3_SECRET=$s3_secret python3 - "$artifacts" "$sftp_port" "$s3_port" "$host" <<'PY'
import json, os, sys
from pathlib import Path
art, sftp_port, s3_port, host = sys.argv[1:]
key_id, secret = os.environ["S3_KEY_ID"], os.environ["S3_SECRET"]
sftp = Path(art, "sftp")
host_key = (sftp / "host_key.pub").read_text().split()
Path(art, "sftp-vars.json").write_text(json.dumps({
    "backup_repository": f"sftp://root@127.0.0.1:{sftp_port}//repo/{host}",
    "backup_sftp_private_key": (sftp / "client_key").read_text(),
    "backup_sftp_known_hosts": f"[127.0.0.1]:{sftp_port} {host_key[0]} {host_key[1]}",
}))
Path(art, "s3-vars.json").write_text(json.dumps({
    "backup_repository": f"s3:http://127.0.0.1:{s3_port}/dermai-backups/{host}",
    "backup_s3_access_key_id": key_id,
    "backup_s3_secret_access_key": secret,
}))
PY
)
restic_sftp() { RESTIC_PASSWORD_FILE=$secrets/backup_password restic --no-cache -r "$sftp_root/repo/$host" "$@"; }
restic_s3() {
  AWS_ACCESS_KEY_ID=$s3_key_id AWS_SECRET_ACCESS_KEY=$s3_secret RESTIC_PASSWORD_FILE=$secrets/backup_password \
    in_vm_net restic --no-cache -r "s3:http://127.0.0.1:$s3_port/dermai-backups/$host" "$@"
}
backend_run sftp "$artifacts/sftp-vars.json" restic_sftp
vm_sh 'test "$(stat -c %a /etc/dermai-backup/sftp_key)" = 400'
backend_run s3 "$artifacts/s3-vars.json" restic_s3
vm_sh 'test "$(stat -c %a /etc/dermai-backup/s3.env)" = 400 && test ! -e /etc/dermai-backup/sftp_key'
logged e2-rest-again.log pb tests/e2e/backup_converge.yml
vm_sh 'for f in s3.env sftp_key sftp_known_hosts sftp.command; do test ! -e /etc/dermai-backup/$f || { echo "left behind: $f"; exit 1; }; done'
backends_stop
passed

if [[ ${BACKUP_DRILL_SKIP_DR:-0} == 1 ]]; then
  result_line="(backup, faults and check only; the disaster part was skipped: BACKUP_DRILL_SKIP_DR=1)"
  exit 0
fi

# ---- F. disaster recovery onto a NEW VM ------------------------------------------------
step "F1. destroy the VM and create a fresh one"
server_stop
logged f1-destroy.log ansible-playbook deploy/local_vm.yml -e local_vm_state=absent
vm_started=$SECONDS
logged f1-create.log ansible-playbook deploy/local_vm.yml
vm_seconds=$((SECONDS - vm_started))
server_start
# What a new host needs on this machine besides make restore: the fixture repository the
# sentry role checks out (upstream's on a real host) and PostgreSQL where the stack's would run.
logged f1-fixture.log ansible-playbook -i "$inventory" tests/e2e/sentry_fixture_vm.yml
logged f1-prepare.log pb tests/e2e/backup_prepare.yml -e drill_seed=false
passed

restore() { make restore INVENTORY="$inventory" SNAPSHOT="$latest" PLAYBOOK_ARGS="-e backup_enabled=true $rerun_args" "$@"; }
# F2 converges the fresh host; the reruns after it skip that converge (its idempotence is
# step 4 of make e2e) and repeat the plan and the data restore, which is what an interruption
# leaves half done.
rerun_args=""
restored_identical() {
  fingerprint >"$artifacts/fingerprint-$1.txt"
  diff "$artifacts/fingerprint-backed-up.txt" "$artifacts/fingerprint-$1.txt" ||
    { echo "backup drill: the $1 host differs from the backed-up one (above)"; return 1; }
}

step "F2. make restore on the fresh VM (timed: the RTO); the volumes and the database rows are identical"
restore_started=$SECONDS
logged f2-restore.log restore
rto=$((SECONDS - restore_started))
expect_in f2-restore.log 'overwrites: docker volume'
grep -o 'Restored snapshot [^"]*' "$artifacts/f2-restore.log" | tail -n 1 | tee "$artifacts/f2-times.txt"
restored_identical restored
passed

step "F3. make restore again, interrupted during the volume restore"
rerun_args="--skip-tags base,docker,sentry"
restore CONFIRM=1 >"$artifacts/f3-restore-interrupted.log" 2>&1 &
restore_pid=$!
victims="" deadline=$((SECONDS + 1800))
while ((SECONDS < deadline)); do
  # The script and its restic, once restic writes the first volume (already emptied).
  victims=$(vm_sh 'writer=$(pgrep -f "^restic restore .*--include /var/lib/docker/volumes/sentry-clickhouse/") &&
    echo $(pgrep -f "^/bin/bash /usr/local/sbin/dermai-backup restore") $writer' 2>/dev/null || true)
  [[ $victims =~ ^[0-9]+\ [0-9]+ ]] && break
  victims=""
  kill -0 "$restore_pid" 2>/dev/null || break
  sleep 0.2
done
[[ -n $victims ]] || { tail -n 40 "$artifacts/f3-restore-interrupted.log"; echo "backup drill: the volume restore was never seen running"; exit 1; }
vm_sh "kill $victims"
if wait "$restore_pid"; then echo "backup drill: the interrupted restore reported success"; exit 1; fi
echo "interrupted: dermai-backup restore and restic (pids $victims)"
passed

step "F4. make restore over the half-restored host: refused without CONFIRM=1, then completed; identical"
must_fail f4-refused.log restore
expect_in f4-refused.log 'backup_restore_confirm=true'
logged f4-restore.log restore CONFIRM=1
grep -o 'Restored snapshot [^"]*' "$artifacts/f4-restore.log" | tail -n 1
restored_identical rerun
vm_sh 'systemctl start sentry-double.service 2>/dev/null || true'
passed

# ---- G. secrets ------------------------------------------------------------------------
step "G. no secret in any output; secret files root-only"
if grep -rlF -e "$password" -e "$rest_password" -e "$s3_secret" -e "$(sed -n 2p "$artifacts/sftp/client_key")" "$artifacts"/*.log "$artifacts"/*.txt 2>/dev/null; then
  echo "backup drill: a secret appears in the files above"
  exit 1
fi
vm_sh 'find /etc/dermai-backup /var/lib/dermai-backup -perm /o=rwx -o -perm /g=rwx' >"$artifacts/g-world-readable.txt"
[[ ! -s $artifacts/g-world-readable.txt ]] || { cat "$artifacts/g-world-readable.txt"; exit 1; }
passed

step "H. not exercised here (image-based; docs/backups.md)"
cat <<'TXT' | tee "$artifacts/not-exercised.txt"
  - docker compose exec -T postgres pg_dump/psql: a real PostgreSQL of the VM answers instead (same pipe)
  - docker compose stop/up --wait of the stack around the volume copy: sentry-double.service stands in
  - the content real ClickHouse/SeaweedFS write (the volumes hold generated files; not started after restore)
  - sentry export JSON (needs the web image; backup_sentry_export_command is empty here)
  - restore.yml's start of the stack and health/org/projects/keys API check (tag sentry_stack)
  - s3 against a real object store: moto's S3 server stands in and does not verify the key pair
TXT
passed

result_line="(snapshot $latest restored onto a fresh VM, volumes and rows identical, also after an interrupted restore; RTO: make restore ${rto}s on the fresh VM ($(sed 's/.*: total/total/; s/\.$//' "$artifacts/f2-times.txt")), the VM itself ${vm_seconds}s; services stopped ${downtime}s per backup)"
