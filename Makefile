# The targets CI runs. A fresh clone needs only `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export PORT
# Links in mail name the web server's port. Set here, not per process: honcho hands
# each process its own PORT (the worker, which sends the mail, gets PORT+100).
DESK_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test lint bench install clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: export DESK_BASE_URL := $(DESK_BASE_URL)
run: $(STAMP)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py seed_demo
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/honcho -f Procfile start

# On PostgreSQL (DATABASE_URL set), the hostile-input suite runs on SQLite as well: the databases
# differ exactly there (PostgreSQL refuses NUL in text).
test: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run > /dev/null
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)
	if [ -n "$$DATABASE_URL" ]; then DATABASE_URL= $(BIN)/pytest -p no:cacheprovider -q tests/test_malformed_input.py; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: $(STAMP)
	$(BIN)/python manage.py bench $(BENCH_ARGS)
	$(BIN)/python manage.py bench_sweep $(BENCH_SWEEP_ARGS)
	$(BIN)/python manage.py bench_kb $(BENCH_KB_ARGS)
	$(BIN)/python manage.py bench_reports $(BENCH_REPORTS_ARGS)

clean:
	rm -rf var
