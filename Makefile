# Quickstart: `make demo` (main job on the embedded local environment), `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test benchmarks clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

# The main job on the embedded local environment: sandbox up, the whole estate planned through the bootstrap
# notebook, two runbooks rehearsed (ECS status, a state backup), the audit chain checked.
demo: install
	$(BIN)/tradai-nb sandbox start
	$(BIN)/tradai-nb run notebooks/stacks/bootstrap.ipynb --env local --show
	$(BIN)/tradai-nb run notebooks/runbooks/ecs_operations.ipynb --env local --show
	$(BIN)/tradai-nb run notebooks/runbooks/state_backup.ipynb --env local -p action backup
	$(BIN)/tradai-nb audit list --env local
	$(BIN)/tradai-nb audit verify

test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile

benchmarks: install
	$(BIN)/python benchmarks/plan.py
	$(BIN)/python benchmarks/runner.py
	$(BIN)/python benchmarks/ops.py

clean:
	rm -rf $(VENV) .tradai runs .pytest_cache
