# One image for every Procfile process: `web` by default; `release`, `worker`, `beat` and
# `flower` by naming them (`podman run keel worker`). The process names resolve through
# the Procfile itself, so the container runs exactly what Heroku runs. Any other
# arguments run as a command (`podman run keel keel db upgrade`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/keel/venv \
    PATH=/opt/keel/venv/bin:$PATH

RUN python -m venv /opt/keel/venv \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/keel keel

WORKDIR /app

# Every dependency from the hashed lock files, as `make install` does; this layer is
# rebuilt only when a lock file changes.
COPY requirements-build.lock requirements.lock ./
RUN python -m pip install --require-hashes -r requirements-build.lock \
    && python -m pip install --require-hashes -r requirements.lock

# The project itself, without touching the index (editable, as `make install` does:
# migrations and alembic.ini are found next to the `app` package).
COPY . .
RUN python -m pip install --no-deps --no-build-isolation -e . \
    && keel --help > /dev/null

USER keel
ENV PORT=8000
EXPOSE 8000

ENTRYPOINT ["/bin/sh", "-c", "cmd=$(awk -v p=\"$1:\" 'index($0, p) == 1 { sub(/^[^:]*: */, \"\"); print; exit }' Procfile); if [ -n \"$cmd\" ]; then eval \"exec env $cmd\"; else exec \"$@\"; fi", "keel-process"]
CMD ["web"]
