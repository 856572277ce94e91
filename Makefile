# DermAI self-hosted Sentry bundle: the single entry point.
# `make help` lists the targets. Two commands set everything up on a fresh Debian 12/13 machine
# (as root or with sudo):
#   make deploy   # default inventory: the sandbox (local VM + Sentry API double), see `make sandbox`
#   make test     # test-deps + lint + unit + end-to-end (what CI runs)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

INVENTORY ?= inventories/local
PLAYBOOK_ARGS ?=
VENV := .venv
PY := $(VENV)/bin/python
ANSIBLE_PLAYBOOK := $(VENV)/bin/ansible-playbook
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
DEPS_STAMP := $(VENV)/.deps-stamp

# Image-based tasks (pulling and running the official Sentry images) cannot run on the
# local VM of this machine kind: no container registry is reachable. They carry the tag
# `sentry_stack` and are skipped there; the Sentry API double serves at SENTRY_BIND instead.
ifeq ($(patsubst %/,%,$(INVENTORY)),inventories/local)
SKIP_TAGS ?= sentry_stack
else
SKIP_TAGS ?=
endif
SKIP_ARGS := $(if $(SKIP_TAGS),--skip-tags $(SKIP_TAGS),)
IS_LOCAL := $(filter inventories/local,$(patsubst %/,%,$(INVENTORY)))

# FAST=1: the mitogen strategy (package `mitogen`, installed by `make deps`) for every
# ansible-playbook these targets run. An opt-in only: ansible-core deprecates third-party strategy
# plugins. `make bench` measures its speed-up on the no-op re-converge (docs/benchmarks.md).
ifeq ($(FAST),1)
export ANSIBLE_STRATEGY_PLUGINS := $(firstword $(wildcard $(CURDIR)/$(VENV)/lib/python3*/site-packages/ansible_mitogen/plugins/strategy))
export ANSIBLE_STRATEGY := mitogen_linear
endif

.PHONY: help deps test-deps docker-engine lint sanity unit e2e test vm vm-destroy deploy sandbox restore \
        sandbox-real sandbox-summary check verify configure role-docs upgrade-plan upgrades-doc \
        sentry-double real-sentry real-sentry-stop bench clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "; printf "Usage: make <target> [INVENTORY=inventories/<env>]\n\n"} \
	  /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(DEPS_STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || python3 -c 'import ensurepip' 2>/dev/null || { echo "deps: python3 -m venv needs" \
	  "Debian's package python3-venv (listed in deploy/bin/test-packages.txt)" >&2; exit 1; }
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# The controller gets a Python virtualenv and nothing else, whatever the inventory; only the
# local-VM targets (vm, sandbox, e2e, bench, deploy on inventories/local) need a Docker Engine.
deps: $(DEPS_STAMP) ## Install the Python tools and collections into .venv/ (nothing else)

test-deps: ## Install the Debian packages `make test` needs (deploy/bin/test-packages.txt) when missing
	@deploy/bin/test-deps deploy/bin/test-packages.txt

docker-engine: ## Make sure a Docker Engine runs (installs docker.io, debootstrap); for the local VM
	@deploy/bin/ensure-docker

lint: $(DEPS_STAMP) sanity ## yamllint, ansible-lint (production profile), ruff, syntax check of every playbook, sanity
	yamllint --strict .
	ansible-lint --offline
	ruff check .
	ruff format --check .
	@for p in deploy/*.yml; do ansible-playbook --syntax-check -i inventories/local "$$p" >/dev/null && echo "syntax ok: $$p"; done

# ansible-test sanity of the dermai.sentry collection, in a throwaway HOME (its sanity virtualenvs are built
# there from PyPI). ansible-test bootstraps pip in each with a script it downloads from a host this machine
# cannot reach: deploy/collections/sanity_get_pip.py stands in for it (pip from the interpreter's ensurepip).
# Skipped: shellcheck and pslint (the collection has no shell or PowerShell file; their tools are not installed).
SANITY_PYTHON ?= $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
sanity: $(DEPS_STAMP) ## ansible-test sanity of the collection (deploy/collections/ansible_collections/dermai/sentry)
	@home=$$(mktemp -d); trap 'rm -rf "$$home"' EXIT; \
	pip_version=$$($(PY) -c 'import inspect, re, ansible_test._internal.python_requirements as r; \
	  print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r)).group(1))'); \
	mkdir -p "$$home/.ansible/test/cache"; \
	cp deploy/collections/sanity_get_pip.py "$$home/.ansible/test/cache/get_pip_$${pip_version//./_}.py"; \
	cd deploy/collections/ansible_collections/dermai/sentry && HOME="$$home" ansible-test sanity \
	  --python $(SANITY_PYTHON) --skip-test shellcheck --skip-test pslint

unit: $(DEPS_STAMP) ## Unit, module, double, contract and template tests (no VM needed; UNIT_WORKERS=2)
	tests/run_unit.sh tests/unit deploy/collections/ansible_collections/dermai/sentry/tests/unit

e2e: deps docker-engine ## End-to-end on the local VM: create, converge twice (changed=0), --check --diff, testinfra, scans
	tests/e2e/run.sh

test: test-deps ## Everything CI runs: test-deps, then lint + unit + e2e
	$(MAKE) --no-print-directory lint unit e2e

vm: deps docker-engine ## Build (debootstrap) and start the local Debian VM (LOCAL_VM_RELEASE=bookworm|trixie)
	ansible-playbook deploy/local_vm.yml

vm-destroy: deps docker-engine ## Stop and remove the local VM container (the cached image stays)
	ansible-playbook deploy/local_vm.yml -e local_vm_state=absent

# On inventories/local, deploy IS the sandbox (the same recipe, announced as a test rig).
ifneq ($(IS_LOCAL),)
deploy: sandbox ## Converge deploy/site.yml on INVENTORY (default inventories/local: the sandbox)
else
deploy: deps
	ansible-playbook -i $(INVENTORY) deploy/site.yml $(SKIP_ARGS) $(PLAYBOOK_ARGS)
endif

# The sandbox: a TEST RIG on this machine, not a product install. The local VM runs every role
# for real; in place of the Sentry stack (its images cannot be pulled here) the Sentry API double
# from tests/sentry_double serves at SENTRY_BIND, and the tasks tagged sentry_stack are skipped.
# SANDBOX_SENTRY=real puts a real Sentry 23.7.1 (tests/real_sentry, on this machine's loopback)
# behind the VM's TLS proxy instead, through an SSH reverse tunnel: its web UI shows what
# configure created. tests/sandbox/sandbox.sh says all this at start and end.
SANDBOX_SENTRY ?= double
sandbox: deps docker-engine ## Try it here: local VM + TLS proxy + Sentry API double (SANDBOX_SENTRY=real: real Sentry 23.7.1 UI)
	SANDBOX_SENTRY=$(SANDBOX_SENTRY) PLAYBOOK_ARGS="$(PLAYBOOK_ARGS)" tests/sandbox/sandbox.sh up

sandbox-real: ## The sandbox with a real Sentry 23.7.1 behind the TLS proxy (= make sandbox SANDBOX_SENTRY=real)
	$(MAKE) --no-print-directory sandbox SANDBOX_SENTRY=real

sandbox-summary: $(DEPS_STAMP) ## Print how to reach the sandbox from this machine (URL, port, CA file, admin)
	@tests/sandbox/sandbox.sh summary

check: deps ## Dry run of deploy/site.yml on INVENTORY: --check --diff
	ansible-playbook -i $(INVENTORY) deploy/site.yml --check --diff $(SKIP_ARGS) $(PLAYBOOK_ARGS)

restore: deps ## Restore a backup onto INVENTORY (same or new host): SNAPSHOT=latest|<id> [CONFIRM=1 to overwrite a live install]
	ansible-playbook -i $(INVENTORY) deploy/restore.yml $(SKIP_ARGS) -e backup_restore_snapshot=$(or $(SNAPSHOT),latest) \
	  $(if $(filter 1 true yes,$(CONFIRM)),-e backup_restore_confirm=true,) $(PLAYBOOK_ARGS)

verify: $(DEPS_STAMP) ## Run the testinfra suite against INVENTORY's hosts; writes the HIPAA report (.artifacts/verify/compliance.md, .html)
	pytest tests/verify --inventory-dir=$(INVENTORY) --compliance-dir=.artifacts/verify

# With SENTRY_URL given and no INVENTORY, configure talks to that Sentry alone
# (inventories/standalone: SENTRY_URL, SENTRY_TOKEN_FILE or SENTRY_AUTH_TOKEN, SENTRY_ORG, ...).
CONFIGURE_INVENTORY := $(if $(and $(SENTRY_URL),$(filter file,$(origin INVENTORY))),inventories/standalone,$(INVENTORY))
configure: $(DEPS_STAMP) ## Configure Sentry through its API only (SENTRY_URL=... SENTRY_TOKEN_FILE=..., or INVENTORY=...)
	ansible-playbook -i $(CONFIGURE_INVENTORY) deploy/configure.yml $(PLAYBOOK_ARGS)

sentry-double: $(DEPS_STAMP) ## Test rig: the Sentry API double (tests/) in the foreground (DOUBLE_PORT=9000, DOUBLE_URL_PREFIX=...)
	$(PY) -m tests.sentry_double --host 127.0.0.1 --port $${DOUBLE_PORT:-9000} \
	  --url-prefix $${DOUBLE_URL_PREFIX:-http://127.0.0.1:$${DOUBLE_PORT:-9000}}

real-sentry: $(DEPS_STAMP) ## Test peer: build (once) and start a real Sentry 23.7.1 on loopback (tests/real_sentry)
	tests/real_sentry/up.sh

real-sentry-stop: ## Stop the real Sentry 23.7.1 server
	tests/real_sentry/down.sh

bench: deps docker-engine ## Benchmarks: converge and no-op re-converge, API requests of a no-op configure, TLS proxy overhead
	$(PY) tests/bench/run.py

role-docs: $(DEPS_STAMP) ## Regenerate roles/*/README.md from meta/argument_specs.yml
	$(PY) deploy/bin/role-docs

upgrade-plan: $(DEPS_STAMP) ## The sentry role's upgrade plan: FROM=24.8.0 TO=26.8.0 [JSON=1] (FROM=none: fresh install)
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make upgrade-plan FROM=<installed> TO=<release> [JSON=1]" >&2; exit 2; }
	$(PY) deploy/bin/upgrade-plan --from "$(FROM)" --to "$(TO)" $(if $(JSON),--json,)

upgrades-doc: $(DEPS_STAMP) ## Regenerate docs/upgrades.md from roles/sentry/vars/releases.yml
	$(PY) deploy/bin/gen-upgrades-doc

clean: ## Remove local state (.venv stays); use vm-destroy for the VM
	rm -rf .artifacts .pytest_cache .ruff_cache
