# The fixed condbench image (docs/container.md).
#
# BASE_IMAGE: a CUDA PyTorch runtime image pinned by digest, with Python 3.11 or 3.12 and
# torch==2.13.0 on `python3`. Every other dependency comes from requirements.lock (hashes,
# for both Pythons).
# A local base stands in for tests and offline machines:
#   docker build --build-arg BASE_IMAGE=condbench-base:local -t condbench:local .
# The default digest is pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime as cited publicly;
# image registries are not reachable where this file was written, so check it (and that its
# python3 is 3.11 or 3.12: the builder stage stops with a clear message when it is not) with
#   docker buildx imagetools inspect pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime
ARG BASE_IMAGE=pytorch/pytorch@sha256:6acf597eeb8e376a96580dde4952f37cc017fef732bb40bfc73f28f25e3f64b4

# ---- builder: a venv on top of the base's Python (torch stays the base's), from the lock only
FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# The Pythons of requires-python (pyproject.toml); tests/test_requirements_lock.py keeps them equal
RUN python3 -c "import sys, torch; \
assert sys.version_info[:2] in ((3, 11), (3, 12)), f'base image: python {sys.version.split()[0]}, condbench needs 3.11 or 3.12'; \
assert torch.__version__.split('+')[0] == '2.13.0', f'base image: torch {torch.__version__}, condbench pins 2.13.0'"
RUN python3 -m venv --system-site-packages /opt/condbench
COPY requirements.lock /tmp/requirements.lock
RUN /opt/condbench/bin/pip install --require-hashes --no-deps --only-binary=:all: \
        -r /tmp/requirements.lock
COPY pyproject.toml /src/
COPY harness /src/harness
COPY condensers /src/condensers
COPY recommenders /src/recommenders
COPY leaderboard /src/leaderboard
RUN touch /src/README.md \
 && /opt/condbench/bin/pip install --no-deps --no-build-isolation --no-compile /src \
 && /opt/condbench/bin/python -c "import harness.cli, torch, numpy, pandas, pyarrow, sklearn, mlflow, optuna, transformers, docker" \
 && /opt/condbench/bin/condbench --version

# ---- final: the base plus the venv; no compilers, no build tools, no sources
FROM ${BASE_IMAGE}
ARG CONDBENCH_UID=1000
RUN useradd --create-home --uid "${CONDBENCH_UID}" --user-group --shell /usr/sbin/nologin condbench \
 && mkdir -p /data /cache /results /work \
 && chown condbench:condbench /cache /results
COPY --from=builder /opt/condbench /opt/condbench
ENV PATH=/opt/condbench/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    CONDBENCH_MIRROR=/data \
    CONDBENCH_CACHE=/cache \
    CONDBENCH_RESULTS=/results
USER condbench
WORKDIR /work
VOLUME ["/data", "/cache", "/results"]
ENTRYPOINT ["condbench"]
CMD ["--help"]
