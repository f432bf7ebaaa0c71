# syntax=docker/dockerfile:1
# One image for Dagster on ECS: the code location (the default command), the webserver, the daemon and every run
# start from it with different commands (infra/dagster.yaml). Build from the repository root:
#   docker build -t clickstream-dagster .

# Build stage: the project's wheel and the wheels of everything it needs, so the runtime stage installs offline
# and carries no compiler, no pip cache and no source tree.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/home \
    CLICKSTREAM_PROFILE=aws
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/clickstream_assets-*.whl \
    && groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid 10001 --home-dir /opt/dagster --create-home dagster \
    && install -d -o 10001 -g 10001 /opt/dagster/home
# Dagster writes under $DAGSTER_HOME (run storage of outputs, local artifacts): the directory is the user's, the
# instance and workspace files in it are root's and read-only to the user.
COPY --chown=root:root --chmod=0444 deploy/dagster.yaml deploy/workspace.yaml /opt/dagster/home/
# Numeric, so the runtime (and ECS's checks) knows it is not root without reading /etc/passwd.
USER 10001:10001
WORKDIR /opt/dagster
EXPOSE 4000
# ECS uses the task definitions' own health checks; this one serves `docker run` of the default command.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["dagster", "api", "grpc-health-check", "--port", "4000"]
CMD ["dagster", "api", "grpc", "--module-name", "clickstream_assets.definitions", "--host", "0.0.0.0", "--port", "4000"]
