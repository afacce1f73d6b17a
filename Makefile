# Ledgerdoc: `make run` (embedded service on 127.0.0.1:$(PORT)) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)

# Peer clients the tests drive as their users do. The Nuxeo Python client gets a virtualenv of its
# own: its "jwt" dependency overwrites PyJWT's package (see tests/requirements-nuxeo-client.txt).
NUXEO_CLIENT_VENV ?= var/peer-clients/nuxeo
NUXEO_CLIENT_REQS := tests/requirements-nuxeo-client.txt
NUXEO_CLIENT_STAMP := $(NUXEO_CLIENT_VENV)/.installed-$(shell sha1sum $(NUXEO_CLIENT_REQS) | cut -c1-12)

.PHONY: install peer-clients run migrate demo test fuzz-api lint bench-records bench-uploads clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

$(NUXEO_CLIENT_STAMP): $(NUXEO_CLIENT_REQS)
	test -x $(NUXEO_CLIENT_VENV)/bin/python || $(PYTHON) -m venv $(NUXEO_CLIENT_VENV)
	$(NUXEO_CLIENT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(NUXEO_CLIENT_REQS)
	rm -f $(NUXEO_CLIENT_VENV)/.installed-*
	touch $@

# tus-js-client (the client under Uppy), pinned in tests/tus_js/package-lock.json.
TUS_JS_STAMP := tests/tus_js/node_modules/.installed-$(shell sha1sum tests/tus_js/package-lock.json | cut -c1-12)

$(TUS_JS_STAMP): tests/tus_js/package-lock.json
	@command -v npm >/dev/null || { echo "node and npm are needed for the tus-js-client tests (Debian: apt-get install nodejs npm)"; exit 1; }
	cd tests/tus_js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

peer-clients: $(NUXEO_CLIENT_STAMP) $(TUS_JS_STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_demo

run: demo
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@# Uploads a killed server left PROCESSING are finalized again before serving.
	$(BIN)/python manage.py purge_uploads
	@echo "Ledgerdoc on http://127.0.0.1:$(PORT)  (API docs: /api/docs/, admin: /admin/)"
	$(BIN)/gunicorn config.wsgi:application --config config/gunicorn.conf.py \
		--bind 127.0.0.1:$(PORT) --workers 1 --threads 8 \
		--timeout 300 --access-logfile -

# The suite runs on TEST_WORKERS processes (pytest-xdist; each has its own test database), then the
# e2e tests alone: with a broker they use the one Celery worker that serves test_<DATABASE name>.
# PYTEST_ARGS runs just what it names, in one process.
TEST_WORKERS ?= auto
test: install peer-clients
ifeq ($(strip $(PYTEST_ARGS)),)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not e2e"
	$(BIN)/python -m pytest -m e2e
else
	$(BIN)/python -m pytest $(PYTEST_ARGS)
endif

# Schemathesis against a live service (gunicorn, fresh SQLite demo database), as GardenAdmin and as
# GardenUser; FUZZ_MAX_EXAMPLES, FUZZ_SEED and FUZZ_WORKERS bound the run (README "Schemathesis").
fuzz-api: install
	$(BIN)/python tests/schema_fuzz/run_schemathesis.py

lint: install
	$(BIN)/ruff check .

bench-records: install
	$(BIN)/python -m benchmarks.records

bench-uploads: install
	$(BIN)/python -m benchmarks.uploads

clean:
	rm -rf $(VENV) var
