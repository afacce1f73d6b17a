# Ledgerdoc: `make run` (embedded service on 127.0.0.1:$(PORT)) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# requirements.txt: what the service runs with (the image installs only it); requirements-dev.txt adds
# tests, benchmarks and tooling. `make install` installs both.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

# Peer clients the tests drive as their users do. The Nuxeo Python client gets a virtualenv of its
# own: its "jwt" dependency overwrites PyJWT's package (see tests/requirements-nuxeo-client.txt).
NUXEO_CLIENT_VENV ?= var/peer-clients/nuxeo
NUXEO_CLIENT_REQS := tests/requirements-nuxeo-client.txt
NUXEO_CLIENT_STAMP := $(NUXEO_CLIENT_VENV)/.installed-$(shell sha1sum $(NUXEO_CLIENT_REQS) | cut -c1-12)

.PHONY: install peer-clients ui-assets browser run migrate demo test test-interleaving fuzz-api lint bench-records bench-uploads bench-load bench-s3direct bench-thumbnails bench-smoke clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
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

# The web UI's uploader, tus-js-client, pinned in package.json/package-lock.json and copied into the
# UI's static files (not committed).
UI_VENDOR := apps/ui/static/ui/vendor
UI_JS_STAMP := node_modules/.installed-$(shell sha1sum package-lock.json | cut -c1-12)

$(UI_JS_STAMP): package-lock.json
	@command -v npm >/dev/null || { echo "node and npm are needed for the web UI's uploader (tus-js-client); Debian: apt-get install nodejs npm"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(UI_VENDOR)/tus.min.js: $(UI_JS_STAMP)
	mkdir -p $(UI_VENDOR)
	cp node_modules/tus-js-client/dist/tus.min.js $@

# Uppy's bundle (@uppy/core + @uppy/aws-s3, versions pinned by package-lock.json): the uploader's
# direct-to-S3 path, loaded only when the storage is S3.
$(UI_VENDOR)/uppy.min.js: $(UI_JS_STAMP)
	mkdir -p $(UI_VENDOR)
	cp node_modules/uppy/dist/uppy.min.js $@

ui-assets: $(UI_VENDOR)/tus.min.js $(UI_VENDOR)/uppy.min.js

# Headless Chromium from Debian's packages for the browser tests (tests/ui, Playwright drives it).
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests (tests/ui)"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }; } \
	  || { echo "could not install chromium: as root, run apt-get install chromium"; exit 1; }; }

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_demo

run: demo ui-assets
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@# Uploads a killed server left PROCESSING are finalized again before serving.
	$(BIN)/python manage.py purge_uploads
	@echo "Ledgerdoc on http://127.0.0.1:$(PORT)  (API docs: /api/docs/, admin: /admin/)"
	@echo "Web UI: http://127.0.0.1:$(PORT)/ui/  (demo users: GardenAdmin, GardenUser, AcmeAdmin; password = user name)"
	$(BIN)/gunicorn config.wsgi:application --config config/gunicorn.conf.py \
		--bind 127.0.0.1:$(PORT) --workers 1 --threads 8 \
		--timeout 300 --access-logfile -

# The suite runs on TEST_WORKERS processes (pytest-xdist; each has its own test database), then the
# e2e tests alone: with a broker they use the one Celery worker that serves test_<DATABASE name>.
# PYTEST_ARGS runs just what it names, in one process.
TEST_WORKERS ?= auto
test: install peer-clients ui-assets browser
ifeq ($(strip $(PYTEST_ARGS)),)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not e2e"
	$(BIN)/python -m pytest -m e2e
else
	$(BIN)/python -m pytest $(PYTEST_ARGS)
endif

# The randomized interleaving of upload writers of every dialect (tests/uploads/interleaving.py) on
# a live stack of its own, for DURATION seconds of steps with SEED (default: a random one, printed
# so that a failure can be replayed). With DATABASE_URL=postgres://... and CELERY_BROKER_URL set it
# runs on PostgreSQL with a real Celery worker that it kills now and then; else the embedded mode.
SEED ?=
DURATION ?= 600
test-interleaving: install
	$(BIN)/python -m tests.uploads.interleaving --seed "$(SEED)" --duration $(DURATION)

# Schemathesis against a live service (gunicorn, fresh SQLite demo database), as GardenAdmin and as
# GardenUser; FUZZ_MAX_EXAMPLES, FUZZ_SEED and FUZZ_WORKERS bound the run (README "Schemathesis").
fuzz-api: install
	$(BIN)/python tests/schema_fuzz/run_schemathesis.py

lint: install
	$(BIN)/ruff check .

# Benchmarks run on the production setup (PostgreSQL, Redis, a Celery worker, the Dockerfile's
# gunicorn: benchmarks/stack.py) against baselines measured in the same run. BENCH_ARGS passes
# options (e.g. BENCH_ARGS="--size 1G"); bench-smoke only checks that they work (CI).
bench-records: install
	$(BIN)/python -m benchmarks.records $(BENCH_ARGS)

bench-uploads: install
	$(BIN)/python -m benchmarks.uploads $(BENCH_ARGS)

# 3 nodes, every service process through one PgBouncer in transaction mode (direct, with a note,
# where pgbouncer is not installed); BENCH_ARGS="--nodes 2 --pooler none" for the old setup.
bench-load: install
	$(BIN)/python -m benchmarks.load $(BENCH_ARGS)

# The web node's CPU seconds per GiB ingested straight to S3 against through the node (moto).
bench-s3direct: install
	$(BIN)/python -m benchmarks.s3direct $(BENCH_ARGS)

bench-thumbnails: install
	$(BIN)/python -m benchmarks.thumbnails $(BENCH_ARGS)

bench-smoke: install
	$(BIN)/python -m benchmarks.uploads --smoke
	$(BIN)/python -m benchmarks.records --smoke
	$(BIN)/python -m benchmarks.load --smoke
	$(BIN)/python -m benchmarks.s3direct --smoke

clean:
	rm -rf $(VENV) var
