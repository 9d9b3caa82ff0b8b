# Pinbang: `make run` starts everything on embedded defaults; `make test` sets up and runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app
CATALOGUE := translations/zh_Hans_CN/LC_MESSAGES/messages

.PHONY: run test setup install install-dev translations migrate seed i18n-extract i18n-fill lint clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Trying the app needs the runtime packages only; the test tool chain (pytest, Playwright, schemathesis, ruff …)
# comes with `make test` and `make lint`.
$(VENV)/.installed-runtime: $(BIN)/python requirements.txt
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-runtime requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed-runtime

install-dev: $(VENV)/.installed-dev

$(CATALOGUE).mo: $(CATALOGUE).po $(VENV)/.installed-runtime
	$(BIN)/pybabel -q compile -d translations

translations: $(CATALOGUE).mo

setup: install translations

migrate: setup
	$(BIN)/flask db upgrade heads

seed: migrate
	$(BIN)/flask seed-demo

# Honcho hands each process its own PORT (web gets the first), so the web port also travels as PINBANG_PORT, and
# the links and QR codes Pinbang prints follow it unless PUBLIC_URL says otherwise.
PORT ?= 5000
run: seed
	@PINBANG_PORT=$(PORT) $(BIN)/python -m demo.banner
	PINBANG_PORT=$(PORT) PUBLIC_URL=$${PUBLIC_URL:-http://127.0.0.1:$(PORT)} $(BIN)/honcho start -f Procfile -p $(PORT)

# The suite in parallel: one pytest-xdist worker per core, each with its own database, instance folder and Celery
# queue (tests/conftest.py). PYTEST_WORKERS=0 runs it in one process; PYTEST_ARGS adds pytest options or paths.
PYTEST_WORKERS ?= auto
test: setup install-dev browser
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The browser for tests/e2e: Debian's Chromium (Playwright's own download cannot work here) and a CJK font.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver fonts-wqy-microhei; \
	else \
		echo "tests/e2e need Chromium: sudo apt-get install -y chromium chromium-driver fonts-wqy-microhei (they skip without it)"; \
	fi

# Collect new strings into the catalogue; then translate the empty msgstr entries in $(CATALOGUE).po.
i18n-extract: install
	flock /tmp/pinbang-i18n.lock $(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot .
	flock /tmp/pinbang-i18n.lock $(BIN)/pybabel -q update -i translations/messages.pot -d translations -l zh_Hans_CN --no-fuzzy-matching

# Fill translations from a JSON file of {"msgid": "中文"}: make i18n-fill FILE=zh.json
i18n-fill: install
	flock /tmp/pinbang-i18n.lock $(BIN)/python translations/fill.py $(FILE)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) instance translations/*/LC_MESSAGES/*.mo
