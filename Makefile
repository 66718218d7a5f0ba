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

.PHONY: run prod test test-pg lint typecheck lock bench install clean messages

# Every dependency, dev tools included, pinned with hashes: `make lock` compiles it from pyproject.toml.
LOCK := requirements/dev.lock

# The lock first (hashes required), then the project itself without resolving anything;
# `pip check` fails when pyproject.toml names a dependency the lock lacks (run `make lock`).
$(STAMP): pyproject.toml $(LOCK)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $(STAMP)

install: $(STAMP)

# Every process writes its metrics under PROMETHEUS_MULTIPROC_DIR, emptied at each start; /metrics adds them up.
run: export DESK_BASE_URL := $(DESK_BASE_URL)
run: export PROMETHEUS_MULTIPROC_DIR ?= $(abspath var/prometheus)
run: $(STAMP)
	mkdir -p "$$PROMETHEUS_MULTIPROC_DIR" && find "$$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py seed_demo
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/honcho -f Procfile start

# Production, behind a TLS proxy (README, "Operations"): gunicorn, the two Celery workers, beat and the mail
# gateway (Procfile.prod), once the settings pass `check --deploy`. Debug stays off; set DJANGO_SECRET_KEY,
# DJANGO_ALLOWED_HOSTS, DATABASE_URL, REDIS_URL and DESK_BASE_URL first.
prod: export PROMETHEUS_MULTIPROC_DIR ?= $(abspath var/prometheus)
prod: $(STAMP)
	mkdir -p "$$PROMETHEUS_MULTIPROC_DIR" && find "$$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
	$(BIN)/python manage.py check --deploy --fail-level WARNING
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/honcho -f Procfile.prod start

# On PostgreSQL (DATABASE_URL set), the hostile-input suite runs on SQLite first as well: the databases
# differ exactly there (PostgreSQL refuses NUL in text). The whole suite's summary comes last.
# The suite runs in TEST_WORKERS processes (pytest-xdist; TEST_WORKERS=0 runs it in this one). Each worker has
# its own test database, Redis database (REDIS_URL's number + worker index: keep it <= 15) and var/
# (sofacover/settings_test.py); tests marked xdist_group("name") run in one worker.
TEST_WORKERS ?= 2
define run_tests
	$(BIN)/python manage.py makemigrations --check --dry-run > /dev/null
	if [ -n "$$DATABASE_URL" ]; then DATABASE_URL= $(BIN)/pytest -p no:cacheprovider -q tests/test_malformed_input.py; fi
	$(BIN)/pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)
endef

# axe-core for the accessibility tests (tests/test_accessibility.py), pinned by package-lock.json. Test-only:
# `make run` and `make prod` never need node or npm.
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $(AXE)

test: $(STAMP) $(AXE)
	$(run_tests)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run

# mypy alone (also part of lint): the whole tree as pyproject.toml's [tool.mypy] lists it.
typecheck: $(STAMP)
	$(BIN)/mypy

# The suite on PostgreSQL and Redis, which must already be running: it starts nothing.
# Set DATABASE_URL / REDIS_URL to point it elsewhere: the tests create and drop test_<name> on that server,
# so the database named need not exist.
test-pg: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/sofacover
test-pg: export REDIS_URL ?= redis://127.0.0.1:6379/0
test-pg: $(STAMP) $(AXE)
	@$(BIN)/python -c 'import os, psycopg; psycopg.connect(os.environ["DATABASE_URL"], dbname="postgres", connect_timeout=5).close()' \
		|| { echo "make test-pg: no PostgreSQL at $$DATABASE_URL (start it, or set DATABASE_URL)" >&2; exit 1; }
	@$(BIN)/python -c 'import os, redis; redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=5).ping()' \
		|| { echo "make test-pg: no Redis at $$REDIS_URL (start it, or set REDIS_URL)" >&2; exit 1; }
	$(run_tests)

# Recompile the lock after changing dependencies in pyproject.toml; pins already in the lock
# are kept while they still fit (LOCK_ARGS=--upgrade moves everything to the newest allowed).
# pip-tools is pinned in pyproject.toml's `lock` extra and installed here only.
lock:
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$$(grep -o '"pip-tools==[^"]*"' pyproject.toml | tr -d '"')"
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe \
		--strip-extras --no-emit-index-url --no-emit-find-links --extra dev $(LOCK_ARGS) \
		--output-file $(LOCK) pyproject.toml

# The German catalogue: collect every marked string into locale/de/LC_MESSAGES/django.po (new ones empty, for a
# translator), then compile the .mo the desk reads. Needs GNU gettext (Debian: gettext). The .mo is committed,
# so running the desk or its tests needs no gettext.
MESSAGES_IGNORE := --ignore=.venv --ignore=node_modules --ignore=var --ignore=tests --ignore=bench --ignore=staticfiles
messages:
	$(BIN)/python manage.py makemessages --locale=de --no-obsolete --add-location=file $(MESSAGES_IGNORE)
	$(BIN)/python manage.py makemessages --locale=de --no-obsolete --add-location=file --domain=djangojs $(MESSAGES_IGNORE) --ignore=reports/static/reports/vendor
	$(BIN)/python manage.py compilemessages --locale=de $(MESSAGES_IGNORE)

bench: $(STAMP)
	$(BIN)/python manage.py bench $(BENCH_ARGS)
	$(BIN)/python manage.py bench_sweep $(BENCH_SWEEP_ARGS)
	$(BIN)/python manage.py bench_kb $(BENCH_KB_ARGS)
	$(BIN)/python manage.py bench_reports $(BENCH_REPORTS_ARGS)
	$(BIN)/python manage.py bench_mail $(BENCH_MAIL_ARGS)
	$(BIN)/python manage.py bench_incident_broadcast $(BENCH_INCIDENT_BROADCAST_ARGS)
	$(BIN)/python manage.py bench_status $(BENCH_STATUS_ARGS)
	$(BIN)/python manage.py bench_monitors $(BENCH_MONITORS_ARGS)
	$(BIN)/python manage.py bench_chat $(BENCH_CHAT_ARGS)

clean:
	rm -rf var
