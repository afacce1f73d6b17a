# Ledgerdoc: `make run` (embedded service on 127.0.0.1:$(PORT)) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)

.PHONY: install run migrate demo test lint bench-records bench-uploads clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_demo

run: demo
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "Ledgerdoc on http://127.0.0.1:$(PORT)  (API docs: /api/docs/, admin: /admin/)"
	$(BIN)/gunicorn config.wsgi:application --config config/gunicorn.conf.py \
		--bind 127.0.0.1:$(PORT) --workers 1 --threads 8 \
		--timeout 300 --access-logfile -

# The suite runs on TEST_WORKERS processes (pytest-xdist; each has its own test database), then the
# e2e tests alone: with a broker they use the one Celery worker that serves test_<DATABASE name>.
# PYTEST_ARGS runs just what it names, in one process.
TEST_WORKERS ?= auto
test: install
ifeq ($(strip $(PYTEST_ARGS)),)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not e2e"
	$(BIN)/python -m pytest -m e2e
else
	$(BIN)/python -m pytest $(PYTEST_ARGS)
endif

lint: install
	$(BIN)/ruff check .

bench-records: install
	$(BIN)/python -m benchmarks.records

bench-uploads: install
	$(BIN)/python -m benchmarks.uploads

clean:
	rm -rf $(VENV) var
