# The two commands of README: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Delta Lake's jars for the local Spark JVMs (lib/spark.py: the release of the pinned delta-spark wheel), fetched once from Maven Central.
JARS_STAMP := .venv-jars/.installed
export SPARK_LOCAL_IP := 127.0.0.1

.PHONY: run test bench clean venv tools jars chromium

venv: $(STAMP)
jars: $(JARS_STAMP)

$(JARS_STAMP): $(STAMP) lib/spark.py
	@echo "fetching Delta Lake's jars into .venv-jars (first time: ~10 s)"
	@$(PY) -c "from lib import spark; print(*spark.delta_jars(), sep='\n')"
	@touch $@

# Rebuilt when requirements.txt or pyproject.toml changes; pip's index noise goes to .venv/pip.log.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing requirements into $(VENV) (first time: ~2 min)"
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt > $(VENV)/pip.log 2>&1 \
		|| (tail -20 $(VENV)/pip.log; exit 1)
	@# this repository's `lib`, editable: notebooks and kernels import it from anywhere, no sys.path
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps -e . >> $(VENV)/pip.log 2>&1 \
		|| (tail -20 $(VENV)/pip.log; exit 1)
	@$(PY) -m pip check
	@touch $(STAMP)

# The whole chain on the embedded synthetic log (INPUT=... for other logs, OUTPUT=... for the run folder).
OUTPUT ?= output
run: $(STAMP) $(JARS_STAMP)
	$(PY) -m lib run --output $(OUTPUT) $(if $(INPUT),--input $(INPUT)) $(ARGS)

test: $(STAMP) $(JARS_STAMP) tools
	$(PY) -m pytest $(PYTEST_ARGS)

# Drain3, which the benchmark compares with, is installed by the benchmark into its own venv
# (.venv-drain3, from requirements-drain3.txt) on first use.
bench: $(STAMP) $(JARS_STAMP)
	$(PY) -m lib bench $(ARGS)

clean:
	rm -rf output .pytest_cache

# Validators and emulators for the Azure assets' tests (tests/test_infra.py, tests/test_upload.py),
# installed once and cached by stamps; the .venv-* names keep them out of git.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
NODE_TOOLS := .venv-node
AZURITE_VERSION := 3.35.0
AZURITE_STAMP := $(NODE_TOOLS)/.azurite-$(AZURITE_VERSION)

PEERS_STAMP := .venv-peers/.installed

tools: $(CHECKOV_STAMP) $(AZURITE_STAMP) $(PEERS_STAMP) chromium

# A Chromium for the report's browser test (tests/test_pipeline.py, driven by playwright): the one on
# PATH, else Debian's package (apt-get, as root or through sudo).
BROWSERS := chromium chromium-browser google-chrome google-chrome-stable
chromium:
	@for b in $(BROWSERS); do command -v $$b >/dev/null && exit 0; done; \
	echo "installing chromium (Debian package) for the browser test (first time: ~1 min)"; \
	sudo=$$(test "$$(id -u)" = 0 || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	mkdir -p $(VENV); \
	$$sudo apt-get install -y -qq chromium > $(VENV)/chromium.log 2>&1 \
		|| { $$sudo apt-get update -qq && $$sudo apt-get install -y -qq chromium >> $(VENV)/chromium.log 2>&1; } \
		|| { tail -20 $(VENV)/chromium.log; exit 1; }

# fail2ban and CrowdSec, the tools `python -m lib evaluate` and tests/test_incidents.py compare with:
# Debian's packages, downloaded and unpacked (no root needed to run them, no daemon).
$(PEERS_STAMP): $(STAMP)
	@echo "installing fail2ban and crowdsec (Debian packages) into .venv-peers (first time: ~20 s)"
	@$(PY) -c "from lib import peers; peers.ensure()"

# checkov has its own venv: it and python-hcl2 (in .venv) both install a module named `hcl2`.
$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@echo "installing checkov into $(CHECKOV_VENV) (first time: ~30 s)"
	@$(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-checkov.txt \
		> $(CHECKOV_VENV)/pip.log 2>&1 || (tail -20 $(CHECKOV_VENV)/pip.log; exit 1)
	@$(CHECKOV_VENV)/bin/python -m pip check
	@touch $@

# Azurite (blob service only is used) for `python -m lib upload`'s tests.
$(AZURITE_STAMP):
	@echo "installing azurite@$(AZURITE_VERSION) into $(NODE_TOOLS) (first time: ~20 s)"
	@mkdir -p $(NODE_TOOLS)
	@npm install --prefix $(NODE_TOOLS) --no-audit --no-fund --loglevel=error azurite@$(AZURITE_VERSION) \
		> $(NODE_TOOLS)/npm.log 2>&1 || (tail -20 $(NODE_TOOLS)/npm.log; exit 1)
	@touch $@
