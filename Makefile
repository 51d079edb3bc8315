# Quotient — the README's commands. Everything runs from a local virtualenv in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000
NAME   ?=
PYTEST_ARGS ?=
ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: help install demo demo-env serve worker test lint format bench chaos db migrate clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/' | expand -t 12

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install Quotient with its dev tools

DEMO_ENV ?= .env
DEMO_ENV_MARK := \# Written by make demo
DEMO_RUN = DEBUG=$${DEBUG:-true} SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(BIN)/python manage.py

demo-env:  ## write the demo's .env (DEBUG, SITE_URL from HOST/PORT) unless one of your own exists
	@if [ ! -e $(DEMO_ENV) ] || head -n 1 $(DEMO_ENV) | grep -q '^$(DEMO_ENV_MARK)'; then \
	  printf '%s\n' '$(DEMO_ENV_MARK) (the demo settings of this checkout). For production,' \
	    '# replace it with a copy of .env.example.' 'DEBUG=true' \
	    'SITE_URL=http://$(HOST):$(PORT)' > $(DEMO_ENV); fi

demo: install demo-env  ## migrate the embedded SQLite database, seed the demo tenant, serve on :8000
	$(DEMO_RUN) migrate --no-input
	$(DEMO_RUN) demo_seed
	$(DEMO_RUN) incentives_demo_seed --tenant demo
	$(DEMO_RUN) plans_demo_seed --tenant demo
	$(DEMO_RUN) payouts_demo_seed --tenant demo
	@echo "Quotient is at http://$(HOST):$(PORT)/login/  (Ctrl-C to stop)"
	$(DEMO_RUN) runserver $(HOST):$(PORT)

migrate: install  ## apply migrations (as DATABASE_OWNER_URL's role when set)
	$(BIN)/python manage.py migrate --no-input

serve: install  ## production-style server: migrate, collect static files, gunicorn
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input -v 0
	$(BIN)/gunicorn config.wsgi --bind $(HOST):$(PORT) --workers $${WEB_CONCURRENCY:-2} --access-logfile -

worker: install  ## a Celery worker with the beat scheduler embedded (needs REDIS_URL)
	$(BIN)/celery -A config worker --beat --loglevel INFO

db: install  ## create the PostgreSQL roles and database from ADMIN_URL, then migrate
	$(BIN)/python manage.py db_bootstrap --admin-url "$(ADMIN_URL)" --recreate-stale
	$(BIN)/python manage.py migrate --no-input

test: install  ## run the whole suite (SQLite by default; PostgreSQL + Redis when their URLs are set)
	$(BIN)/pytest -n auto $(PYTEST_ARGS); code=$$?; if [ $$code -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$code

lint: install  ## ruff, import-linter (layers, pure engine), mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy engine config core hierarchy plans incentives payouts dashboards

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install  ## run every benchmark, or one: make bench NAME=engine
	$(BIN)/python -m benchmarks.run $(NAME)

chaos: install  ## a 10k-payee run on two workers SIGKILLed 10 times (PostgreSQL + Redis; minutes; not in CI)
	RUN_CHAOS=1 $(BIN)/pytest -p no:xdist -s tests/payouts/test_runs_chaos.py $(PYTEST_ARGS)

clean:  ## remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
