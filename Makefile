# Two commands: `make run` (set up everything, serve http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000
# pytest-xdist workers for `make test` (each with its own test database and Redis database);
# 0 runs in one process, `auto` one per core. A worker that runs out of tests takes half of the
# other's remaining ones (worksteal), so both finish together.
TEST_WORKERS ?= 2

.PHONY: run test setup worker beat lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# The development server, its demo logins and its worker/beat: DEBUG on (settings default to
# off; production runs gunicorn and celery itself, or docker compose).
setup run worker beat: export DEBUG ?= true

setup: $(VENV)/.runtime
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo $(if $(DATABASE_URL),,--with-logins)
	$(BIN)/python manage.py alerts_catch_up
	$(BIN)/python manage.py seed_scenarios --run

run: setup
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py runserver --nostatic $(HOST)

# Bytecode caches on for the run even where the environment turns them off
# (PYTHONDONTWRITEBYTECODE=1): otherwise each worker and each subprocess a test starts compiles
# the project and the assertion-rewritten test modules again from source.
test: $(VENV)/.dev
	mkdir -p var
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

worker: $(VENV)/.runtime
	$(BIN)/celery -A config worker --loglevel=INFO --concurrency=2

beat: $(VENV)/.runtime
	$(BIN)/celery -A config beat --loglevel=INFO

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev
	$(BIN)/mypy minerals suppliers dashboards alerts scenarios config

clean:
	rm -rf $(VENV) var/lodestone.sqlite3* var/staticfiles
