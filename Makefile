# BYOK Renewer: `make demo` and `make test` work on a fresh clone (they build what they need).
SHELL := /bin/bash
PYTHON ?= $(shell scripts/find-python.sh)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-3.12 soak lint format bench package package-size check-s-yaml infra clean

# A venv with the dev requirements and this project with every extra: $(1) the Python, $(2) the folder.
VENV_INPUTS := requirements-dev.txt function/requirements.txt function/requirements-aws.txt \
	function/requirements-pkcs11.txt function/requirements-sm2.txt pyproject.toml
define make_venv
	$(1) -m venv $(2)
	$(2)/bin/python -m pip install --quiet --upgrade pip
	$(2)/bin/python -m pip install --quiet -r requirements-dev.txt -e '.[aws,pkcs11,sm2]'
	touch $(2)/.installed
endef

$(STAMP): $(VENV_INPUTS)
	$(call make_venv,$(PYTHON),$(VENV))

node_modules/.bin/fun: package.json package-lock.json scripts/install-fun.sh
	bash scripts/install-fun.sh
	touch $@

# The pinned Serverless Devs CLI, for `s preview` (tests/test_s_yaml.py). On a fresh machine the `npm ci`
# above installs it with fun; this catches a node_modules/ made before package.json named it.
node_modules/.bin/s: package.json package-lock.json node_modules/.bin/fun
	test -x $@ || npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# The JavaScript SDKs tests/emulator/test_js_sdks.py drives (@aws-sdk/client-kms, @alicloud/openapi-client,
# @alicloud/kms20160120): the same `npm ci` installs them; this catches a node_modules/ made before.
JS_SDKS := @aws-sdk/client-kms @alicloud/openapi-client @alicloud/kms20160120
node_modules/.js-sdks: package.json package-lock.json node_modules/.bin/fun
	for p in $(JS_SDKS); do test -f node_modules/$$p/package.json || { npm ci --ignore-scripts --no-audit --no-fund; break; }; done
	touch $@

# SoftHSM 2 for the PKCS#11 tests, unpacked from Debian's packages into .softhsm/ (nothing system-wide).
SOFTHSM := .softhsm
$(SOFTHSM)/.installed: scripts/install-softhsm.sh
	bash scripts/install-softhsm.sh
	touch $@

demo: $(STAMP)
	$(PY) scripts/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

TEST_ENV := ALIBABA_CLOUD_ECS_METADATA_DISABLED=true \
	SOFTHSM2_UTIL=$(CURDIR)/$(SOFTHSM)/bin/softhsm2-util SOFTHSM2_LIB=$(CURDIR)/$(SOFTHSM)/lib/libsofthsm2.so

# Everything but the `soak` and `cloud` tests (pyproject.toml's addopts deselect them). worksteal: a
# worker that runs dry takes queued tests from the other; with xdist's default (load) the slow tests
# queued up on one worker while the other sat idle for a minute.
TEST_TOOLS := node_modules/.bin/fun node_modules/.bin/s node_modules/.js-sdks $(SOFTHSM)/.installed
PYTEST_ARGS := -m pytest -n 2 --dist worksteal -q

test: $(STAMP) $(TEST_TOOLS) lint
	$(TEST_ENV) $(PY) $(PYTEST_ARGS)

# The same suite on Python 3.12 (Function Compute's python3.12 runtime), in a venv of its own; CI runs
# it after `make test`. The lint ran there already.
VENV312 := .venv-3.12
STAMP312 := $(VENV312)/.installed

$(STAMP312): $(VENV_INPUTS)
	$(call make_venv,"$$(scripts/find-python.sh 3.12)",$(VENV312))

test-3.12: $(STAMP312) $(TEST_TOOLS)
	$(TEST_ENV) $(VENV312)/bin/python $(PYTEST_ARGS) -p no:cacheprovider

# The soak test alone: 1,000 keys with 20% of calls failing (about 20 s on 2 cores, bounded at 4 min).
soak: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -q -m soak

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The code package s.yaml deploys, build/$(RUNTIME)/: the function, its dependencies for Linux x86_64
# (pip, from PyPI) and the configuration CONFIG as renewer.yml, validated first with the function's own
# code (no configuration, or an invalid one: nothing is built, exit 2). EXTRAS="aws pkcs11" adds those
# extras. Also build/function/ and build/template.yml for `fun build`. README, Deployment 1 and 3.
CONFIG ?= function/renewer.yml
RUNTIME ?= python3.10
package: $(STAMP)
	CONFIG='$(CONFIG)' RUNTIME='$(RUNTIME)' PYTHON=$(PY) bash scripts/build-package.sh --deps $(EXTRAS)

# s.yaml rendered by the pinned `s preview` (offline) and checked against the fc3 component's schema and
# the project's rules, in this shell's environment (BYOK_ROLE_ARN, BYOK_LOG_PROJECT...): run before `s deploy`.
check-s-yaml: $(STAMP) node_modules/.bin/s
	$(PY) scripts/check_s_yaml.py

# The account stack (RAM role, SLS logs and index, CloudMonitor alarms) synthesised by ROS CDK into
# infra/cdk.out/ (README, Deployment 2); tests/test_infra.py does the same in make test.
infra: $(STAMP)
	$(PY) infra/app.py

# Installed size of the code package: Alibaba only, each extra, everything (pip install --target).
package-size: $(STAMP)
	$(PY) scripts/package_size.py

clean:
	rm -rf $(VENV) $(VENV312) node_modules .softhsm .pytest_cache .ruff_cache build infra/cdk.out

# Benchmark against the emulator (127.0.0.1 only); writes bench/results/. BENCH_ARGS=--quick for a fast check;
# BENCH_ARGS=--quotas-only re-runs just the request-quota scenarios (bench/quotas.py), --no-quotas skips them.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	$(PY) -m pip install --quiet -r bench/requirements.txt
	touch $@

bench: $(BENCH_STAMP)
	ALIBABA_CLOUD_ECS_METADATA_DISABLED=true $(PY) bench/fleet.py $(BENCH_ARGS)
