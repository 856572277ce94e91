#!/usr/bin/env bash
# The sandbox: a TEST RIG on this machine for trying the bundle (`make sandbox`, and `make deploy`
# on inventories/local). Not a product install.
#
#   tests/sandbox/sandbox.sh up        # build/start the local VM, prepare it, converge deploy/site.yml
#   tests/sandbox/sandbox.sh summary   # how to reach it from this machine
#   tests/sandbox/sandbox.sh tunnel-stop
#
# What is real: the local VM (a Debian container with systemd, reached over SSH on 127.0.0.1),
# every role (base, docker, the sentry role's preflight/checkout/overlays/boot unit, tls_proxy with
# a real ACME exchange against pebble), and configure (the dermai.sentry modules over https).
# What stands in for the Sentry stack (its images cannot be pulled on this machine):
#   SANDBOX_SENTRY=double (default): the Sentry API double (tests/sentry_double) at SENTRY_BIND;
#   SANDBOX_SENTRY=real: a real Sentry 23.7.1 web server on this machine's loopback
#     (tests/real_sentry/up.sh, or REAL_SENTRY_URL + REAL_SENTRY_TOKEN_FILE for one already running),
#     reached from the VM's SENTRY_BIND through an SSH reverse tunnel
#     (ssh -R 127.0.0.1:9000:127.0.0.1:<its port>), so the VM's TLS proxy serves its web UI.
# Environment: LOCAL_VM_NAME, LOCAL_VM_PORT_OFFSET (as for every local-VM command), SANDBOX_SENTRY,
# SANDBOX_ORG (organization configure uses in real mode; default sentry), PLAYBOOK_ARGS.
set -euo pipefail
cd "$(dirname "$0")/../.."

export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
inventory=inventories/local
mode=${SANDBOX_SENTRY:-double}
vm=${LOCAL_VM_NAME:-dermai-sentry-vm}
offset=${LOCAL_VM_PORT_OFFSET:-0}
ssh_port=$((2222 + offset))
https_port=$((8443 + offset))
fqdn=sentry.dermai.test
state=.local-vm
ca_file=$state/$vm-ca.crt
tunnel_pid=$state/$vm-tunnel.pid
mode_file=$state/$vm-sandbox-mode
read -r -a playbook_args <<<"${PLAYBOOK_ARGS:-}"

say() { printf 'sandbox: %s\n' "$*"; }
die() {
  printf 'sandbox: ERROR: %s\n' "$*" >&2
  exit 1
}
rule() { printf '%s\n' "======================================================================================"; }

case $mode in double | real) ;; *) die "SANDBOX_SENTRY must be double or real, not '$mode'" ;; esac

skipped_tasks() {
  # The tasks tagged sentry_stack (the image-based steps), as the playbook lists them.
  ansible-playbook -i "$inventory" deploy/site.yml --list-tasks --tags sentry_stack 2>/dev/null |
    awk '/TAGS: \[/ && /sentry_stack/ {sub(/^[ \t]+/, ""); sub(/[ \t]+TAGS:.*/, ""); print "    - " $0}'
}

banner_start() {
  rule
  say "SANDBOX: a test rig on this machine, not a product install."
  say "  VM: Docker container '$vm' (Debian, systemd), SSH on 127.0.0.1:$ssh_port; every role runs for real in it."
  if [[ $mode == real ]]; then
    say "  In place of the Sentry stack: a REAL Sentry 23.7.1 web server on this machine (tests/real_sentry),"
    say "  tunnelled to the VM's SENTRY_BIND 127.0.0.1:9000 over SSH (-R); the VM's TLS proxy serves its UI."
  else
    say "  In place of the Sentry stack: the Sentry API double (tests/sentry_double, a test double of the"
    say "  REST API and ingest; no web UI) at the VM's SENTRY_BIND 127.0.0.1:9000. SANDBOX_SENTRY=real for a UI."
  fi
  say "  Skipped: the tasks tagged sentry_stack (the official images cannot be pulled here)."
  rule
}

tunnel_alive() { [[ -s $tunnel_pid ]] && kill -0 "$(cat "$tunnel_pid")" 2>/dev/null; }

tunnel_stop() {
  if tunnel_alive; then
    say "stopping the SSH reverse tunnel (pid $(cat "$tunnel_pid"))"
    kill "$(cat "$tunnel_pid")"
  fi
  rm -f "$tunnel_pid"
}

adhoc() { ansible dermai-vm -i "$inventory" -b "$@" >/dev/null; }

owns_real_sentry=0
real_sentry_endpoint() {
  # A real Sentry already given, or the one tests/real_sentry/up.sh builds (once) and starts.
  if [[ -n ${REAL_SENTRY_URL:-} && -n ${REAL_SENTRY_TOKEN_FILE:-} ]]; then
    return 0
  fi
  owns_real_sentry=1
  local out
  out=$(tests/real_sentry/up.sh) || die "tests/real_sentry/up.sh failed"
  eval "$(grep -E '^REAL_SENTRY_(URL|TOKEN_FILE)=' <<<"$out")"
  export REAL_SENTRY_URL REAL_SENTRY_TOKEN_FILE
}

up() {
  banner_start
  local started=$SECONDS
  say "1/4 local VM (deploy/local_vm.yml)"
  ansible-playbook deploy/local_vm.yml "${playbook_args[@]}"
  # A tunnel of an earlier real-mode run would hold SENTRY_BIND, where the double listens.
  tunnel_stop
  say "2/4 prepare the VM for this machine (tests/e2e/prepare-local.sh: Sentry fixture repository, API double, pebble)"
  tests/e2e/prepare-local.sh
  if [[ $mode == double ]]; then
    say "3/4 converge deploy/site.yml --skip-tags sentry_stack"
    ansible-playbook -i "$inventory" deploy/site.yml --skip-tags sentry_stack "${playbook_args[@]}"
  else
    real_sentry_endpoint
    local port=${REAL_SENTRY_URL##*:}
    port=${port%%/*}
    say "3/4 converge the host (deploy/site.yml --skip-tags sentry_stack,sentry_config); sshd allows remote forwarding"
    ansible-playbook -i "$inventory" deploy/site.yml --skip-tags sentry_stack,sentry_config \
      -e base_ssh_allow_tcp_forwarding=remote "${playbook_args[@]}"
    if ((owns_real_sentry)); then
      # A person signs in with the sandbox's own admin password (generated per checkout, 0600).
      say "    the real Sentry's admin@dermai.test gets the password in $state/secrets/sentry_admin_password"
      (
        # shellcheck source=tests/real_sentry/lib.sh
        source tests/real_sentry/lib.sh
        SENTRY_CONF="$REAL_SENTRY_CONF" REAL_SENTRY_ADMIN_EMAIL="$REAL_SENTRY_ADMIN_EMAIL" \
          SANDBOX_PASSWORD_FILE="$PWD/$state/secrets/sentry_admin_password" \
          "$REAL_SENTRY_VENV/bin/sentry" exec tests/sandbox/set_admin_password.py 2>&1 | grep -q 'admin password' ||
          die "could not set the admin password (sentry exec tests/sandbox/set_admin_password.py)"
      )
    fi
    say "    the double steps aside; the real Sentry's token goes to the VM's token file (root 0600)"
    adhoc -m ansible.builtin.systemd_service -a "name=sentry-double state=stopped enabled=false"
    adhoc -m ansible.builtin.copy -a "src=$REAL_SENTRY_TOKEN_FILE dest=/etc/sentry-bundle/api-token owner=root group=root mode=0600"
    say "    SSH reverse tunnel: VM 127.0.0.1:9000 -> this machine 127.0.0.1:$port"
    setsid ssh -N -i "$state/id_ed25519" -p "$ssh_port" -o ExitOnForwardFailure=yes -o ServerAliveInterval=15 \
      -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
      -R "127.0.0.1:9000:127.0.0.1:$port" deploy@127.0.0.1 </dev/null >"$state/$vm-tunnel.log" 2>&1 &
    echo $! >"$tunnel_pid"
    local tries=0
    until adhoc -m ansible.builtin.uri -a "url=http://127.0.0.1:9000/_health/" 2>/dev/null; do
      tunnel_alive || die "the SSH tunnel exited: $(cat "$state/$vm-tunnel.log")"
      ((++tries < 30)) || die "Sentry does not answer through the tunnel at the VM's 127.0.0.1:9000"
      sleep 1
    done
    say "4/4 configure the real Sentry through the VM's TLS proxy (deploy/configure.yml; no metric alerts: no Snuba)"
    ansible-playbook -i "$inventory" deploy/configure.yml \
      -e "{\"sentry_config_metric_alerts_enabled\": false, \"sentry_config_organization_slug\": \"${SANDBOX_ORG:-sentry}\"}" "${playbook_args[@]}"
  fi
  echo "$mode" >"$mode_file"
  say "done in $((SECONDS - started)) s"
  summary
}

summary() {
  local shown_mode
  shown_mode=$(cat "$mode_file" 2>/dev/null || echo "$mode")
  rule
  say "SANDBOX summary (test rig; mode: $shown_mode)"
  say "  Sentry URL (inside the VM): https://$fqdn"
  say "  From this machine: port $https_port on 127.0.0.1, sending the name $fqdn; trust the CA $ca_file"
  say "    curl --cacert $ca_file --resolve $fqdn:$https_port:127.0.0.1 https://$fqdn:$https_port/_health/"
  say "    chromium --host-resolver-rules='MAP $fqdn 127.0.0.1:$https_port' https://$fqdn/"
  say "    (a browser must use the URL without a port: Sentry's CSRF check compares the Referer with the Host;"
  say "    the certificate is from pebble, a test CA: trust $ca_file or accept the warning)"
  say "  Shell in the VM: ssh -i $state/id_ed25519 -p $ssh_port deploy@127.0.0.1"
  say "  Env files: /etc/dermai/.env.production and .env.staging in the VM (root 0600); API token: /etc/sentry-bundle/api-token"
  if [[ $shown_mode == real ]]; then
    say "  Serving: a real Sentry 23.7.1 (${REAL_SENTRY_URL:-tests/real_sentry}) through the SSH tunnel" \
      "($(tunnel_alive && echo "up, pid $(cat "$tunnel_pid")" || echo DOWN: run make sandbox-real again))."
    say "  Sign in as admin@dermai.test with the password in $state/secrets/sentry_admin_password (when the"
    say "  sandbox started that Sentry itself; see docs/sandbox.md)."
    say "  It cannot: ingest events (needs Relay), metric alerts (needs Snuba), send mail; DSNs in the env files"
    say "  point at its own URL prefix."
  else
    say "  Serving: the Sentry API double (REST API + ingest of the endpoints the bundle uses; no web UI, no Relay"
    say "  processing pipeline, no alerts firing). Admin token: /etc/sentry-bundle/api-token in the VM."
  fi
  say "  Skipped (tag sentry_stack, image-based): install.sh, compose up, createuser, token mint, upgrades:"
  skipped_tasks || true
  say "  Remove it: make vm-destroy (and tests/sandbox/sandbox.sh tunnel-stop)"
  rule
}

case ${1:-} in
  up) up ;;
  summary) summary ;;
  tunnel-stop) tunnel_stop ;;
  *) die "usage: $0 up|summary|tunnel-stop" ;;
esac
