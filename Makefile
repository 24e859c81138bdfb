# Two doors: `make repro` runs the pipeline on the defaults, `make test` runs the checks.
# Both create .venv and install the project into it on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export MPLBACKEND := Agg

.PHONY: install repro test test-fast lint bench bench-load bench-feast docs lock clean

# setuptools' notice that an editable install reads the working tree is what we want here:
# it is silenced (PYTHONWARNINGS reaches the build backend).
# pip prints one line per package it collects: a cold install (no pip cache) takes a few
# minutes (README: Install), and it should never look stuck.
$(VENV)/.installed: pyproject.toml requirements.lock
	@echo "installing fraudctl with all extras into $(VENV) (a cold install takes a few minutes)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" \
	  $(BIN)/python -m pip install --progress-bar off -c requirements.lock -e ".[all,dev]"
	touch $@

# Refresh the locked versions: resolve fraudctl[all,dev] afresh in a scratch venv, then
# freeze it (local version labels such as +cpu dropped, so the lock works on any index).
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e ".[all,dev]"
	{ sed -n '1,3p' requirements.lock; .venv-lock/bin/pip freeze --exclude-editable \
	  | grep -v '^-e \|^fraudctl' | sed -E 's/^([A-Za-z0-9_.-]+)==([^+]+)\+.*/\1==\2/' \
	  | sort -f; } > requirements.lock.tmp && mv requirements.lock.tmp requirements.lock
	rm -rf .venv-lock

install: $(VENV)/.installed

repro: install
	dvc repro

lint: install
	ruff check .
	ruff format --check fraudctl tests benchmarks

# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
test: lint
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

# The manual at http://127.0.0.1:8000 (mkdocs.yml; `mkdocs build --strict` is in the tests).
docs: install
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

bench: install
	$(BIN)/python -m benchmarks.pipeline

# Locust's traffic mix and wrk against one local server, 60 s each (benchmarks/load.py).
bench-load: install
	$(BIN)/python -m benchmarks.load

# Feast pins its own versions of shared libraries: it gets a virtualenv of its own, with
# fraudctl's online store beside it (benchmarks/feature_store.py).
FEAST_VENV := .venv-feast
$(FEAST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(FEAST_VENV)
	$(FEAST_VENV)/bin/python -m pip install --quiet "feast>=0.60,<1"
	$(FEAST_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

bench-feast: $(FEAST_VENV)/.installed
	$(FEAST_VENV)/bin/python -m benchmarks.feature_store

clean:
	rm -rf $(VENV) $(FEAST_VENV) .pytest_cache .ruff_cache
