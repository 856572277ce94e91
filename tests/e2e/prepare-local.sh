#!/usr/bin/env bash
# Prepare the local VM (already started by deploy/local_vm.yml) for deploy/site.yml:
# runs tests/e2e/prepare_local.yml, i.e. the Sentry fixture repository, the Sentry API
# double at SENTRY_BIND and pebble, in that order.
#
#   tests/e2e/prepare-local.sh [ansible-playbook options...]
#
# Environment: INVENTORY (default inventories/local), LOCAL_VM_NAME / LOCAL_VM_PORT_OFFSET
# as for the VM. While one of the three playbooks does not exist yet, the ones that do
# run one after the other, in the same order, and the missing ones are named.
set -euo pipefail
cd "$(dirname "$0")/../.."

export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
inventory=${INVENTORY:-inventories/local}

parts=(sentry_fixture_vm.yml sentry_double_vm.yml pebble_vm.yml)
present=() missing=()
for part in "${parts[@]}"; do
  if [[ -f tests/e2e/$part ]]; then present+=("tests/e2e/$part"); else missing+=("tests/e2e/$part"); fi
done

if ((${#missing[@]} == 0)); then
  exec ansible-playbook -i "$inventory" tests/e2e/prepare_local.yml "$@"
fi

echo "prepare-local: not there yet, skipped: ${missing[*]}" >&2
for playbook in "${present[@]}"; do
  ansible-playbook -i "$inventory" "$playbook" "$@"
done
