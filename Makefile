# The README's commands (`make run`, `make test`, `make manage ARGS="…"`) and CI's `make smoke`.
# Without DATABASE_URL / REDIS_URL they use the embedded PostgreSQL and Redis under .local/.
VENV := .venv
PY := $(VENV)/bin/python
# The virtualenv's interpreter: the distribution's CPython 3.11 where it can make a virtualenv (an
# optimised build, as the production image's python:3.11 is: the page mix took 15 % less CPU than on
# a default pyenv build of 3.11.7), else the first python3 on PATH. `make PYTHON=…` picks another.
SYSTEM_PYTHON := $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' 2>/dev/null && echo /usr/bin/python3.11)
PYTHON ?= $(or $(SYSTEM_PYTHON),python3)

.PHONY: install run test smoke manage services browser lint messages bench

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	  && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "Chromium not installed: the browser tests will skip."; }

run: install
	$(PY) -m crm_bank.devstack run

test: install browser
	$(PY) -m crm_bank.devstack test

smoke: install
	$(PY) -m crm_bank.devstack smoke

# Any manage.py command against the same database as `make run` (its services if it is running).
manage: install
	$(PY) -m crm_bank.devstack manage $(ARGS)

# Only the embedded PostgreSQL and Redis, until Ctrl-C.
services: install
	$(PY) -m crm_bank.devstack services

lint: install
	$(PY) -m ruff check .

# Needs GNU gettext; the compiled .mo files are committed so running the app never does.
messages: install
	$(PY) manage.py makemessages -l zh_Hans --ignore '.venv/*' --ignore '.local/*'
	$(PY) manage.py compilemessages --ignore '.venv/*'

bench: install
	$(PY) -m crm_bank.devstack python bench/page_bench.py $(ARGS)
