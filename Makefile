# Leadwerk: `make run` starts the product, `make test` runs every check. Only Python 3.11 and make needed.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test install bench lint messages screenshot clean-db

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing Leadwerk's dependencies into $(VENV) (a few minutes the first time; pip shows its progress) ..."
	$(PY) -m pip install --progress-bar on --upgrade pip
	$(PY) -m pip install --progress-bar on -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# Production-like (DEBUG=false); `make run DEBUG=true` for debug mode.
run: $(STAMP)
	$(PY) manage.py run $(if $(filter true 1 yes on,$(DEBUG)),--debug,)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: $(STAMP) lint
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(VENV)/bin/pytest -n 2 --dist loadfile

bench: $(STAMP)
	$(PY) -m benchmarks.run

# Re-extract translatable strings (needs GNU gettext); the compiled .mo files are committed.
messages: $(STAMP)
	$(PY) manage.py makemessages -l de --ignore=.venv --ignore=staticfiles --ignore=benchmarks --ignore=tests
	$(PY) manage.py compilemessages --ignore=.venv
