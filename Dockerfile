# Ledgerdoc web image (also runs the Celery worker and beat: see compose.yaml).

# The web UI's browser libraries (pinned in package-lock.json) into /vendor, the files `make ui-assets`
# copies into apps/ui/static/ui/vendor: tus-js-client, and Uppy's bundle once package.json has it.
FROM node:20-slim AS ui-assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error \
    && mkdir /vendor \
    && cp node_modules/tus-js-client/dist/tus.min.js /vendor/ \
    && if [ -d node_modules/uppy ]; then cp node_modules/uppy/dist/uppy.min.js /vendor/; fi

FROM python:3.11-slim

# MALLOC_ARENA_MAX: glibc gives each thread an arena of its own that keeps what the thread freed;
# with 8 threads per worker reading 1 MiB pieces of upload bodies, a worker's peak RSS went past
# idle + 3 chunks (benchmarks/uploads). Two arenas share the freed memory and keep it under.
ENV PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000 \
    WEB_CONCURRENCY=2

WORKDIR /app

RUN groupadd --system --gid 10001 ledgerdoc \
    && useradd --system --uid 10001 --gid ledgerdoc --home-dir /app --no-create-home ledgerdoc

# What the service runs with only: tests, benchmarks and tooling are in requirements-dev.txt.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# .dockerignore keeps tests, benchmarks, docs, tools and local state (.venv, var, node_modules) out.
COPY . .
COPY --from=ui-assets /vendor/ apps/ui/static/ui/vendor/

# collectstatic imports the settings, which would generate keys when none are given: point it at
# a throw-away folder so no key ends up in the image. Real keys come from the environment.
RUN SECRET_KEY=collectstatic-only VAR_DIR=/tmp/build-var \
        python manage.py collectstatic --noinput --verbosity 0 \
    && rm -rf /tmp/build-var \
    && mkdir -p /app/var \
    && chown ledgerdoc:ledgerdoc /app/var

USER ledgerdoc
EXPOSE 8000

# config/gunicorn.conf.py: the request-line limit, problem+json for what gunicorn refuses itself, no
# control socket (HOME, /app, is not writable), keep-alive 75 s (GUNICORN_KEEPALIVE; README).
CMD ["sh", "-c", "exec gunicorn config.wsgi:application --config config/gunicorn.conf.py --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY} --threads 8 --timeout 300 --access-logfile -"]
