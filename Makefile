# Two doors: `make repro` runs the pipeline on the defaults, `make test` runs the checks.
# Both create .venv and install the project into it on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
# Tools whose pins clash with the project's get virtualenvs of their own (see their rules).
FEAST_VENV := .venv-feast
CHECKOV_VENV := .venv-checkov
AUDIT_VENV := .venv-audit
SBOM_VENV := .venv-serve
AIRFLOW_VENV := .venv-airflow
MLSERVER_VENV := .venv-mlserver
LLEAVES_VENV := .venv-lleaves
AUTOGLUON_VENV := .venv-autogluon
FLAML_VENV := .venv-flaml
export PATH := $(BIN):$(PATH)
export MPLBACKEND := Agg

# PyTorch (the `mlp` family and the default blend's network) is installed from PyTorch's
# CPU index on Linux without an NVIDIA GPU: PyPI's torch for Linux is the CUDA build, which
# adds gigabytes a CPU cannot use (docs/getting-started.md#the-install). Set TORCH_INDEX to
# another index, or to nothing to take pip's default (a GPU machine; macOS and Windows get
# CPU builds from PyPI anyway). The step is tried once: where the index cannot be reached,
# pip's other indexes serve the locked version.
GPU := $(shell command -v nvidia-smi 2>/dev/null)
TORCH_INDEX ?= $(if $(and $(filter Linux,$(shell uname -s)),$(if $(GPU),,cpu)),https://download.pytorch.org/whl/cpu)
# the `torch` extra's requirement in pyproject.toml, e.g. torch==2.13.0
TORCH_REQUIREMENT := $(shell sed -n 's/^torch = \["\(.*\)"\]/\1/p' pyproject.toml)
# $(call torch_step,BIN-DIR[,CONSTRAINTS]): the step, or nothing to do
torch_step = $(if $(TORCH_INDEX),$(1)/python -m pip install --progress-bar off --retries 1 \
  $(2) --extra-index-url $(TORCH_INDEX) "$(TORCH_REQUIREMENT)",true)

.PHONY: install repro test test-fast lint bench bench-newcomer bench-load bench-feast bench-peers bench-batch bench-quality docs docs-numbers site lock scan audit sbom exp airflow clean

# setuptools' notice that an editable install reads the working tree is what we want here:
# it is silenced (PYTHONWARNINGS reaches the build backend).
# pip prints one line per package it collects: a cold install (no pip cache) takes a few
# minutes (docs/getting-started.md), and it should never look stuck.
$(VENV)/.installed: pyproject.toml requirements.lock
	@echo "installing fraudctl with all extras into $(VENV) (a cold install takes a few minutes)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(call torch_step,$(BIN),-c requirements.lock)
	PYTHONWARNINGS="ignore:Editable installation" \
	  $(BIN)/python -m pip install --progress-bar off -c requirements.lock -e ".[all,dev]"
	touch $@

# Refresh the locked versions: resolve fraudctl[all,dev] afresh in a scratch venv, then
# freeze it (local version labels such as +cpu dropped, so the lock works on any index).
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	$(call torch_step,.venv-lock/bin)
	.venv-lock/bin/python -m pip install --quiet -e ".[all,dev]"
	{ sed -n '1,3p' requirements.lock; .venv-lock/bin/pip freeze --exclude-editable \
	  | grep -v '^-e \|^fraudctl' | sed -E 's/^([A-Za-z0-9_.-]+)==([^+]+)\+.*/\1==\2/' \
	  | sort -f; } > requirements.lock.tmp && mv requirements.lock.tmp requirements.lock
	rm -rf .venv-lock

install: $(VENV)/.installed

# `dvc exp show` in 120 columns: five headline metrics and the model family. The full table
# (every declared param and each stage's dependencies) is `dvc exp show --csv`.
EXP_COLUMNS := ^(Experiment|pr_auc|recall_at_fpr|poison_drop|eo_difference|drifted_share|model.name)$$
exp: install
	dvc exp show --no-pager --drop '.*' --keep '$(EXP_COLUMNS)'

repro: install
	dvc repro

lint: install
	ruff check .
	ruff format --check fraudctl tests benchmarks dags docgen

# pytest exits 5 when it collected nothing: that is a failure here, not a pass. The scan
# tests use checkov (its own virtualenv) and the serving image's SBOM (make sbom); the
# continuous-training DAG test runs Airflow (make airflow). The end-to-end tests start about
# a hundred fraudctl processes: where PYTHONDONTWRITEBYTECODE is set (as in many containers
# and CI images), each would compile fraudctl's modules again, so they are compiled once
# here (compileall skips what is up to date).
test: lint $(CHECKOV_VENV)/.installed sbom $(AIRFLOW_VENV)/.installed
	$(BIN)/python -m compileall -q fraudctl
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

# The manual at http://127.0.0.1:8000 (mkdocs.yml; `mkdocs build --strict` is in the tests).
docs: install
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# The manual's generated blocks (numbers from benchmarks/results/*.json, walkthrough
# transcripts, the params reference) rendered again from their files (docgen/); commit them.
docs-numbers: install
	$(BIN)/python -m docgen --write

# The site as GitHub Pages publishes it (.github/workflows/docs.yml), in site/: refused
# while a generated block is stale.
site: install
	$(BIN)/python -m docgen --check
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d site

bench: install
	$(BIN)/python -m benchmarks.pipeline

# The README's two commands timed in a fresh clone of HEAD (about 20 minutes).
bench-newcomer: install
	$(BIN)/python -m benchmarks.newcomer

# Locust's traffic mix and wrk against one local server, 60 s each (benchmarks/load.py).
bench-load: install
	$(BIN)/python -m benchmarks.load

# Feast pins its own versions of shared libraries: it gets a virtualenv of its own, with
# fraudctl's online store beside it (benchmarks/feature_store.py).
$(FEAST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(FEAST_VENV)
	$(FEAST_VENV)/bin/python -m pip install --quiet "feast>=0.60,<1"
	$(FEAST_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

bench-feast: $(FEAST_VENV)/.installed
	$(FEAST_VENV)/bin/python -m benchmarks.feature_store

# MLServer (Seldon) with its LightGBM runtime, the peer the serving benchmark compares with:
# it pins its own FastAPI, uvicorn and pydantic, so it gets a virtualenv of its own
# (benchmarks/serving_peers.py starts it from there on the same model).
$(MLSERVER_VENV)/.installed:
	$(PYTHON) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MLSERVER_VENV)/bin/python -m pip install --quiet "mlserver>=1.7,<1.8" "mlserver-lightgbm>=1.7,<1.8"
	touch $@

# fraudctl serve beside MLServer on one 500-tree LightGBM model, A/B alternated.
bench-peers: install $(MLSERVER_VENV)/.installed
	$(BIN)/python -m benchmarks.serving_peers

# lleaves (LightGBM trees compiled by LLVM) beside the compiled forest, and the whole
# `fraudctl score` command (benchmarks/batch.py). lleaves 1.3.0 needs llvmlite's legacy pass
# manager (before 0.45) and numba here a newer llvmlite: lleaves gets a virtualenv of its own.
$(LLEAVES_VENV)/.installed:
	$(PYTHON) -m venv $(LLEAVES_VENV)
	$(LLEAVES_VENV)/bin/python -m pip install --quiet "lleaves==1.3.0" "llvmlite==0.44.0" numpy
	touch $@

bench-batch: install $(LLEAVES_VENV)/.installed
	$(BIN)/python -m benchmarks.batch --lleaves-python $(LLEAVES_VENV)/bin/python

# AutoML beside fraudctl on the same prepared splits (benchmarks/quality.py). AutoGluon and
# FLAML pin their own versions of shared libraries: each gets a virtualenv of its own, and the
# benchmark runs benchmarks/automl_runner.py inside it. PyTorch's CPU build goes in first:
# AutoGluon's neural models accept torch>=2.10,<2.14, and pip would otherwise fetch a CUDA
# build of several GB (elsewhere add --index-url https://download.pytorch.org/whl/cpu).
# FLAML's xgboost (<3) is the CPU-only wheel, without the 300 MB NCCL library.
$(AUTOGLUON_VENV)/.installed:
	$(PYTHON) -m venv $(AUTOGLUON_VENV)
	$(AUTOGLUON_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AUTOGLUON_VENV)/bin/python -m pip install --quiet "torch==2.13.0"
	$(AUTOGLUON_VENV)/bin/python -m pip install --quiet \
	  "autogluon.tabular[lightgbm,catboost,xgboost,fastai]==1.6.3"
	touch $@

$(FLAML_VENV)/.installed:
	$(PYTHON) -m venv $(FLAML_VENV)
	$(FLAML_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLAML_VENV)/bin/python -m pip install --quiet "flaml==2.8.0" "xgboost-cpu>=2.1,<3" \
	  "lightgbm>=4" "scikit-learn>=1.2" "scipy>=1.9" "pandas>=2" "pyarrow>=15"
	touch $@

# Three datasets (the ULB table, the synthetic defaults, the transactions example), 120 s
# per AutoML system: about 30 minutes on 2 cores.
bench-quality: install $(AUTOGLUON_VENV)/.installed $(FLAML_VENV)/.installed
	$(BIN)/python -m benchmarks.quality

clean:
	rm -rf $(VENV) $(FEAST_VENV) $(CHECKOV_VENV) $(AIRFLOW_VENV) $(AUDIT_VENV) $(SBOM_VENV) $(MLSERVER_VENV) $(LLEAVES_VENV) $(AUTOGLUON_VENV) $(FLAML_VENV) build .pytest_cache .ruff_cache

# Supply-chain and code scans (docs/releases.md#5-scans-on-every-push). checkov pins its
# own versions of libraries pip-audit and the SBOM tool also use: each side gets a
# virtualenv of its own.
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet "checkov>=3.2,<4"
	touch $@

$(AUDIT_VENV)/.installed:
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AUDIT_VENV)/bin/python -m pip install --quiet "pip-audit>=2.7" "cyclonedx-bom>=5"
	touch $@

# bandit on the package (medium or high severity fails; each suppression is justified
# inline) and checkov on the Dockerfiles, manifests, Terraform and workflows
# (deploy/checkov.yaml lists each skipped check and why), then the SBOM.
scan: install $(CHECKOV_VENV)/.installed sbom
	$(BIN)/bandit --quiet --recursive fraudctl --severity-level medium
	$(CHECKOV_VENV)/bin/checkov --config-file deploy/checkov.yaml
	$(CHECKOV_VENV)/bin/checkov --compact --quiet --skip-download --framework dockerfile \
	  --file Dockerfile

# Known vulnerabilities of the locked versions, from PyPI's advisory data. It needs
# pypi.org's JSON API, which package mirrors do not serve: --strict fails rather than
# report a clean audit of nothing (the GitHub workflow runs it).
audit: $(AUDIT_VENV)/.installed
	$(AUDIT_VENV)/bin/pip-audit --strict --disable-pip --no-deps \
	  --requirement requirements.lock --progress-spinner off

# The serving image's environment, as the Dockerfile builds it (docker/requirements-serve.txt
# under requirements.lock, then fraudctl without its pipeline dependencies), and its
# software bill of materials in CycloneDX JSON. The tests serve from it, too.
build/sbom/serve.cdx.json: docker/requirements-serve.txt requirements.lock $(AUDIT_VENV)/.installed
	rm -rf $(SBOM_VENV)
	$(PYTHON) -m venv $(SBOM_VENV)
	$(SBOM_VENV)/bin/python -m pip install --quiet -c requirements.lock -r docker/requirements-serve.txt
	$(SBOM_VENV)/bin/python -m pip install --quiet --no-deps .
	mkdir -p build/sbom
	$(AUDIT_VENV)/bin/cyclonedx-py environment $(SBOM_VENV)/bin/python --output-format JSON \
	  --output-file $@.tmp && mv $@.tmp $@
	@echo "SBOM: $@"

sbom: build/sbom/serve.cdx.json

# Airflow 3 for the continuous-training DAG (dags/). Under requirements.lock pip backs off
# to an older Airflow, and Airflow brings about 50 packages the project does not need: it gets
# a virtualenv of its own, and its tasks call this project's `fraudctl`
# (docs/continuous.md#the-airflow-dag). `pip install 'fraudctl[airflow]'` puts both in one
# environment instead.
$(AIRFLOW_VENV)/.installed:
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet "apache-airflow==3.3.2"
	touch $@

airflow: $(AIRFLOW_VENV)/.installed
