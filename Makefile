# The README's two commands (`make run`, `make test`) and CI's `make smoke`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install run test smoke browser lint messages bench

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
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

lint: install
	$(PY) -m ruff check .

# Needs GNU gettext; the compiled .mo files are committed so running the app never does.
messages: install
	$(PY) manage.py makemessages -l zh_Hans --ignore '.venv/*' --ignore '.local/*'
	$(PY) manage.py compilemessages --ignore '.venv/*'

bench: install
	$(PY) bench/page_bench.py
