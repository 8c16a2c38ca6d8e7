# streamwatch: one image for the worker, the suspension worker and the CLI.
#   docker build -t streamwatch .
#   docker run --rm streamwatch topics list
# The package and its pinned dependencies are built into wheels, then installed into a clean
# stage that runs as an unprivileged user; nothing of the checkout is mounted or kept.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 \
    STREAMWATCH_DATA_DIR=/var/lib/streamwatch/data
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels streamwatch \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/streamwatch \
       --create-home --shell /usr/sbin/nologin streamwatch \
    && install -d -o streamwatch -g streamwatch /var/lib/streamwatch/data
USER 10001:10001
WORKDIR /var/lib/streamwatch
# /metrics, /health and /ready: the worker on 9464, the suspension worker on 9465.
EXPOSE 9464 9465
ENTRYPOINT ["streamwatch"]
CMD ["worker"]
