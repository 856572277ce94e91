# DermAI self-hosted Sentry bundle: the single entry point.
# `make help` lists the targets. Two commands set everything up on a fresh machine:
#   make deploy   # build the local VM (default inventory) and converge it
#   make test     # lint + unit + end-to-end
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

.PHONY: help deps lint unit e2e test vm vm-destroy deploy check verify configure \
        sentry-double real-sentry real-sentry-stop bench clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "; printf "Usage: make <target> [INVENTORY=inventories/<env>]\n\n"} \
	  /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(DEPS_STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

deps: $(DEPS_STAMP) ## Install Python tools and collections into .venv/ and make sure a Docker Engine runs
	@deploy/bin/ensure-docker

lint: $(DEPS_STAMP) ## yamllint, ansible-lint (production profile), ruff, syntax check of every playbook
	yamllint --strict .
	ansible-lint --offline
	ruff check .
	ruff format --check .
	@for p in deploy/*.yml; do ansible-playbook --syntax-check -i inventories/local "$$p" >/dev/null && echo "syntax ok: $$p"; done

unit: $(DEPS_STAMP) ## Unit, module, double, contract and template tests (no VM needed)
	pytest tests/unit

e2e: deps ## End-to-end on the local VM: create, converge twice (changed=0), --check --diff, testinfra, scans
	tests/e2e/run.sh

test: lint unit e2e ## Everything CI runs: lint + unit + e2e

vm: deps ## Build (debootstrap) and start the local Debian VM (LOCAL_VM_RELEASE=bookworm|trixie)
	ansible-playbook deploy/local_vm.yml

vm-destroy: deps ## Stop and remove the local VM container (the cached image stays)
	ansible-playbook deploy/local_vm.yml -e local_vm_state=absent

deploy: deps ## Converge deploy/site.yml on INVENTORY (default: the local VM, created when missing)
	$(if $(IS_LOCAL),ansible-playbook deploy/local_vm.yml && tests/e2e/prepare-local.sh,)
	ansible-playbook -i $(INVENTORY) deploy/site.yml $(SKIP_ARGS) $(PLAYBOOK_ARGS)

check: deps ## Dry run of deploy/site.yml on INVENTORY: --check --diff
	ansible-playbook -i $(INVENTORY) deploy/site.yml --check --diff $(SKIP_ARGS) $(PLAYBOOK_ARGS)

verify: $(DEPS_STAMP) ## Run the testinfra suite against INVENTORY's hosts
	pytest tests/verify --inventory-dir=$(INVENTORY)

# With SENTRY_URL given and no INVENTORY, configure talks to that Sentry alone
# (inventories/standalone: SENTRY_URL, SENTRY_TOKEN_FILE or SENTRY_AUTH_TOKEN, SENTRY_ORG, ...).
CONFIGURE_INVENTORY := $(if $(and $(SENTRY_URL),$(filter file,$(origin INVENTORY))),inventories/standalone,$(INVENTORY))
configure: $(DEPS_STAMP) ## Configure Sentry through its API only (SENTRY_URL=... SENTRY_TOKEN_FILE=..., or INVENTORY=...)
	ansible-playbook -i $(CONFIGURE_INVENTORY) deploy/configure.yml $(PLAYBOOK_ARGS)

sentry-double: $(DEPS_STAMP) ## Run the Sentry API double in the foreground (DOUBLE_PORT=9000, DOUBLE_URL_PREFIX=...)
	$(PY) -m tests.sentry_double --host 127.0.0.1 --port $${DOUBLE_PORT:-9000} \
	  --url-prefix $${DOUBLE_URL_PREFIX:-http://127.0.0.1:$${DOUBLE_PORT:-9000}}

real-sentry: $(DEPS_STAMP) ## Build (once, cached) and start a real Sentry 23.7.1 server on loopback
	tests/real_sentry/up.sh

real-sentry-stop: ## Stop the real Sentry 23.7.1 server
	tests/real_sentry/down.sh

bench: deps ## Benchmarks: converge and no-op re-converge, API requests of a no-op configure, TLS proxy overhead
	$(PY) tests/bench/run.py

clean: ## Remove local state (.venv stays); use vm-destroy for the VM
	rm -rf .artifacts .pytest_cache .ruff_cache
