# The two commands of README: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export SPARK_LOCAL_IP := 127.0.0.1

.PHONY: run test bench clean venv

venv: $(STAMP)

# Rebuilt when requirements.txt changes; pip's index noise goes to .venv/pip.log.
$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing requirements into $(VENV) (first time: ~2 min)"
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt > $(VENV)/pip.log 2>&1 \
		|| (tail -20 $(VENV)/pip.log; exit 1)
	@$(PY) -m pip check
	@touch $(STAMP)

# The whole chain on the embedded synthetic log (INPUT=... for other logs, OUTPUT=... for the run folder).
OUTPUT ?= output
run: $(STAMP)
	$(PY) -m lib run --output $(OUTPUT) $(if $(INPUT),--input $(INPUT)) $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m lib bench $(ARGS)

clean:
	rm -rf output .pytest_cache
