# syntax=docker/dockerfile:1.7
# One image for every deployment unit. The unit comes from BACKSTAGE_UNIT (default: all)
# or `--unit`: docker run -e BACKSTAGE_UNIT=catalog backstage-py:dev
ARG PYTHON_VERSION=3.11

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

# Build: the locked third-party dependencies first (a layer that changes only with
# uv.lock), then the workspace itself, installed without editable links into /opt/venv.
# Only the deployment units (services/*) and what they need at run time are installed:
# no dev group (pytest, linters) and no test utilities, which no unit depends on
# (tests/deploy/test_image.py checks both lines against the lock file).
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=0 \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-workspace \
      --package backstage-service-all --package backstage-service-catalog \
      --package backstage-service-search
COPY . /src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable \
      --package backstage-service-all --package backstage-service-catalog \
      --package backstage-service-search

# The frontend bundle, built by Node from the app's committed lockfile, then precompressed
# (brotli, gzip) by the command that serves it.
FROM node:24-bookworm AS app
WORKDIR /src/packages/app
COPY packages/app/ ./
RUN node .yarn/releases/yarn-4.13.0.cjs install --immutable \
 && node .yarn/releases/yarn-4.13.0.cjs build

FROM build AS bundle
COPY --from=app /src/packages/app/dist /opt/app-dist
RUN /opt/venv/bin/backstage-py app precompress /opt/app-dist

# Runtime: the virtual environment, the deployed config and the topology; no build tools.
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 backstage \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent backstage
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY deploy/app-config.production.yaml /app/app-config.yaml
COPY deploy/topology.yaml /app/deploy/topology.yaml
# The app plugin serves it from app.bundlePath's default, packages/app/dist.
COPY --from=bundle /opt/app-dist /app/packages/app/dist
# The health check: one HTTP request from a Python without site-packages (no backend import).
COPY deploy/image/healthcheck.py /app/healthcheck.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BACKSTAGE_UNIT=all
# Numeric, so that Kubernetes can verify runAsNonRoot.
USER 10001:10001
EXPOSE 7007
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["python3", "-I", "-S", "/app/healthcheck.py"]
# tini is PID 1: it forwards SIGTERM to the unit (which drains and exits 0) and reaps.
ENTRYPOINT ["tini", "--", "backstage-py"]
CMD ["start"]
